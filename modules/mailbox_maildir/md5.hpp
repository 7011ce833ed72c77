// md5.hpp - MD5 (RFC 1321), only to reproduce tpop3d's Maildir UIDLs and to
// shorten file names that cannot be UIDLs. Not used for anything secret.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailbox_maildir
{

using Md5Digest = std::array<uint8_t, 16>;

// md5 - the digest of `data`.
Md5Digest md5(std::string_view data);

// md5_hex - the digest as 32 lower-case hex digits.
std::string md5_hex(std::string_view data);

} // namespace mailbox_maildir
