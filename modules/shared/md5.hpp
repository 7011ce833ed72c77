// md5.hpp - MD5 for the mailbox modules, from OpenSSL's libcrypto: tpop3d's
// Maildir and mbox UIDLs, short names for file names that cannot be UIDLs,
// and the mbox index cache's checksums. Nothing secret depends on it: UIDLs
// only need a stable, well-known function, and the core's own MD5 (APOP,
// CRAM-MD5) is the same libcrypto one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace modpop3d::md5
{

using Digest = std::array<uint8_t, 16>;

// Hasher - a streaming MD5. Movable (a message being scanned is reset by
// assigning a fresh one); throws std::bad_alloc when libcrypto cannot get
// memory for its context.
class Hasher
{
  public:
    Hasher();
    ~Hasher();
    Hasher(Hasher &&other) noexcept;
    Hasher &operator=(Hasher &&other) noexcept;
    Hasher(const Hasher &) = delete;
    Hasher &operator=(const Hasher &) = delete;

    void update(const void *data, std::size_t len);
    // finish - the digest; the hasher starts over for the next input.
    Digest finish();

  private:
    evp_md_ctx_st *ctx_;
};

// digest - the MD5 of `data`.
Digest digest(const void *data, std::size_t len);
inline Digest digest(std::string_view data)
{
    return digest(data.data(), data.size());
}

// hex - a digest as 32 lower-case hex digits.
std::string hex(const Digest &d);
inline std::string hex(std::string_view data)
{
    return hex(digest(data));
}

} // namespace modpop3d::md5
