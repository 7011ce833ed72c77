// passwd_file.hpp - auth_flatfile's file format: parse the text of a
// passwd-style file into an immutable table of users. No I/O, no host calls.
//
// Format, one user per line:
//   name:secret[:uid:gid:home:mailbox]
// '#' starts a comment line, blank lines are ignored, fields after the secret
// may be empty or missing. The secret ends at the next ':', except a
// "{SCRAM-SHA-256}i:salt:StoredKey:ServerKey" verifier, which spans its own
// three colons. The mailbox field is the rest of the line, so mailbox specs
// keep their ':' ("maildir:/srv/mail/alice").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace modpop3d::flatfile
{

struct Entry {
    std::string secret;
    std::optional<uint32_t> uid, gid;
    std::string home;    // "" when the line has none
    std::string mailbox; // "" when the line has none
    unsigned line = 0;
};

struct Table {
    std::unordered_map<std::string, Entry> users;
};

struct Problem {
    unsigned line;
    std::string what;
};

// Longest user name accepted, in the file and from clients.
inline constexpr std::size_t max_name_length = 255;

// valid_name - 1..255 bytes, no white space, no control characters, no ':'.
bool valid_name(std::string_view name) noexcept;

// ascii_lower - fold A-Z only (user names are compared byte-wise otherwise).
std::string ascii_lower(std::string_view s);

// parse_passwd - the users of `text`; malformed lines are skipped and
// described in `problems` (line numbers from 1). With `lowercase`, names
// are folded with ascii_lower. The first line of a duplicated name wins.
Table parse_passwd(std::string_view text, bool lowercase, std::vector<Problem> &problems);

} // namespace modpop3d::flatfile
