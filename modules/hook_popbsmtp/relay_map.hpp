// relay_map.hpp - the POP-before-SMTP relay map file: one entry per client
// address, each with its user and expiry time, written in a format Postfix
// (access(5)), Sendmail (access db) or Exim (lsearch) reads. Every change
// rewrites the whole file under an fcntl lock on a side lock file: a
// temporary file in the same directory, then rename(2), so a reader sees
// the old or the new file and never a half-written one; expired entries are
// dropped on each rewrite; an optional map-building command (postmap,
// makemap) runs after the rename while the lock is still held, so two
// writers never build the map at once.
//
// The expiry of each entry is kept in a comment line before it (all three
// formats skip lines starting with '#'), so the file is its own state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace modpop3d::popbsmtp
{

enum class Format { postfix, sendmail, exim };

struct MapSettings {
    std::string path; // the map file (absolute)
    Format format = Format::postfix;
    std::string value;                // right-hand side; empty: the format's default
    std::vector<std::string> command; // argv of the map builder; empty: none
    int64_t command_timeout_ms = 10000;
    int64_t lock_timeout_ms = 5000;
    mode_t mode = 0644; // the MTA reads it as another user
    // record() leaves the file alone when the address was recorded (for
    // any user) less than this long ago (capped at half the expiry) and no
    // entry has expired: no rewrite, no map command. 0: rewrite every time.
    int64_t refresh_s = 0;
};

struct Entry {
    std::string addr; // canonical text form (inet_ntop)
    std::string user;
    int64_t expires = 0; // Unix time, seconds
};

// canonical_addr - the inet_ntop form of an IPv4 or IPv6 address text
// (an IPv4-mapped IPv6 address becomes IPv4), or "" when it is neither.
std::string canonical_addr(std::string_view text);

// parse - the entries recorded in a map file's text (other lines ignored).
std::vector<Entry> parse(std::string_view text);

// render - the file text for `entries`.
std::string render(const std::vector<Entry> &entries, const MapSettings &s);

enum class Outcome {
    written,        // the file was replaced (and the command, if any, succeeded)
    unchanged,      // nothing to do (prune with nothing expired)
    failed,         // see why; the old file is still in place
    command_failed, // the file was replaced but the map command failed
};

struct Stats {
    std::size_t kept = 0, dropped = 0;
};

// record - add or refresh `addr` for `user` until now + expire_s, dropping
// expired entries (Outcome::unchanged when refresh_s says the entry is
// fresh enough). `now` is Unix time in seconds.
Outcome record(const MapSettings &s, const std::string &addr, const std::string &user, int64_t now,
               int64_t expire_s, std::string &why, Stats *stats = nullptr);

// prune - drop expired entries; rewrites only when one has expired or the
// file does not exist yet (then it is created empty, and built).
Outcome prune(const MapSettings &s, int64_t now, std::string &why, Stats *stats = nullptr);

} // namespace modpop3d::popbsmtp
