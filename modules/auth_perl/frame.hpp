// frame.hpp - the small framed protocol between the auth process and its
// Perl helpers (and the deadline-bounded socket I/O it travels on).
//
// A frame is a 4-byte length (host order: both ends are the same binary on
// the same machine), one type byte and `key\0value\0` pairs. The length is
// bounded (max_frame), so a runaway script cannot make the auth process
// buffer without limit. Types:
//   auth process -> helper   'C' call: the pair "sub" names the sub, the
//                                other pairs are the request hash
//   helper -> auth process   'L' log line ("level", "text"), any number
//                                before the answer
//                            'R' reply: the pairs of the returned hash (or,
//                                after start-up, "ready")
//                            'E' error: "error" holds the Perl error ($@)
// End of file on the socket tells a helper to run `finish` and exit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace modpop3d::auth_perl
{

using Pairs = std::vector<std::pair<std::string, std::string>>;

// Largest frame either side accepts (type byte and pairs).
inline constexpr std::size_t max_frame = 256 * 1024;
// Bounds on one reply, checked by the helper before it sends: a script
// returning more is answered TEMP, like a script that dies.
inline constexpr std::size_t max_reply_keys = 64;
inline constexpr std::size_t max_reply_key = 64;
inline constexpr std::size_t max_reply_value = 16 * 1024;

struct Frame {
    char type = 0;
    Pairs pairs;
    // find - the value of `key`, or nullptr.
    const std::string *find(const std::string &key) const;
};

// encode - header + type + pairs. False when a key is empty or contains a
// NUL byte, a value contains a NUL byte, or the frame exceeds max_frame.
bool encode(char type, const Pairs &pairs, std::string &out);

// decode - parse a frame body (type byte and pairs, no length header).
bool decode(const char *data, std::size_t len, Frame &out);

// now_us - CLOCK_MONOTONIC in microseconds.
uint64_t now_us();

enum class Io { ok, timeout, closed, error };

// send_all / recv_frame - on a stream socket; deadline_us 0 waits forever.
// send_all never raises SIGPIPE (MSG_NOSIGNAL). recv_frame gives
// Io::error for a frame longer than max_frame or one that does not parse.
Io send_all(int fd, const std::string &bytes, uint64_t deadline_us);
Io recv_frame(int fd, Frame &out, uint64_t deadline_us);

// wipe - overwrite a string's bytes (it held a password) before release.
void wipe(std::string &s);

} // namespace modpop3d::auth_perl
