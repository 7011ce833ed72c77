// message.hpp - the framed messages the daemon's processes exchange over
// SOCK_SEQPACKET socketpairs (master, auth, login workers, sessions).
//
// A message is a type and an ordered list of fields, encoded as
// "type\0key\0value\0key\0value\0...": values are byte strings (they may
// hold anything but NUL; a password with NUL never reaches a backend). One
// message is one datagram of at most max_message octets, so a reader never
// sees half a message, and a reader restarted on the same socket resumes
// at a message boundary. Up to max_fds descriptors may ride along
// (SCM_RIGHTS).
//
// Receivers trust nothing: decode() checks the framing, and each receiver
// checks the type, the keys it needs and their values (Message::number).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace modpop3d::ipc
{

constexpr std::size_t max_message = 65536;
constexpr std::size_t max_fds = 2;
constexpr std::size_t max_fields = 256;

struct Message {
    std::string type;
    std::vector<std::pair<std::string, std::string>> fields;

    Message() = default;
    explicit Message(std::string t) : type(std::move(t)) {}

    Message &add(std::string key, std::string value)
    {
        fields.emplace_back(std::move(key), std::move(value));
        return *this;
    }
    // get - the first value of `key`, or nullptr.
    const std::string *get(std::string_view key) const;
    std::string value(std::string_view key) const; // "" when absent
    // number - `key` as a decimal in [0, max]; nullopt when absent or not
    // exactly such a number.
    std::optional<uint64_t> number(std::string_view key, uint64_t max = UINT64_MAX) const;
    // wipe - overwrite every value (messages may carry passwords).
    void wipe();
};

// parse_number - `text` as a decimal in [0, max]: digits only, no sign, no
// space; nullopt otherwise.
std::optional<uint64_t> parse_number(std::string_view text, uint64_t max = UINT64_MAX);

// encode - false when a type, key or value holds NUL, a key is empty, or
// the message would exceed max_message.
bool encode(const Message &m, std::string &out);
// decode - false for anything but a well-formed message (empty type,
// empty key, a value missing its terminator, too many fields).
bool decode(std::string_view bytes, Message &m);

enum class Io { ok, again, closed, error };

// send_message - one datagram, with `fds` attached; never blocks longer
// than the socket lets it (MSG_DONTWAIT when `nonblocking`).
Io send_message(int socket, const Message &m, const std::vector<int> &fds = {},
                bool nonblocking = false);
// send_encoded - the same for a message encode() made (an Outbox keeps
// them so); the caller wipes `bytes`.
Io send_encoded(int socket, std::string_view bytes, const std::vector<int> &fds = {},
                bool nonblocking = false);
// receive_message - one datagram. Descriptors received are returned in
// `fds` (close-on-exec); a malformed datagram closes its descriptors and
// returns error, as does a truncated one.
Io receive_message(int socket, Message &m, std::vector<int> &fds, bool nonblocking = true);

// seqpacket_pair - socketpair(AF_UNIX, SOCK_SEQPACKET, close-on-exec).
bool seqpacket_pair(int fds[2]);

} // namespace modpop3d::ipc
