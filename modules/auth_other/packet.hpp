// packet.hpp - tpop3d's auth-other packet framing: a packet is a sequence of
// `key\0value\0` pairs ended by an empty key (one more \0), at most 4096
// bytes in each direction. Pure functions, no I/O, so the framing is tested
// on its own.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace modpop3d::auth_other
{

// tpop3d's MAX_DATA_SIZE: neither side sends more than this per packet.
inline constexpr std::size_t max_packet = 4096;

using Pairs = std::vector<std::pair<std::string, std::string>>;

// encode - frame `pairs` into `out`. False when a key is empty, a key or a
// value contains a NUL byte, or the packet would exceed max_packet.
bool encode(const Pairs &pairs, std::string &out);

// Decoder - accumulate reply bytes until a whole packet has arrived.
class Decoder
{
  public:
    enum class State { need_more, done, error };

    // feed - append bytes and try to parse. Once done or error, stays there.
    State feed(const char *data, std::size_t len);
    State state() const { return state_; }
    // The pairs of a complete packet, in arrival order.
    const Pairs &pairs() const { return pairs_; }
    // Why the packet was refused (for the log), empty otherwise.
    const char *error() const { return error_; }
    // find - the value of `key`, or nullptr.
    const std::string *find(const std::string &key) const;
    std::size_t bytes() const { return buf_.size(); }

  private:
    State fail(const char *why);
    State parse();

    std::string buf_;
    Pairs pairs_;
    State state_ = State::need_more;
    const char *error_ = "";
};

} // namespace modpop3d::auth_other
