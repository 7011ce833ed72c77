// sql_hosts.hpp - the database hosts of an instance, in failover order, and
// the back-off that keeps a dead host from being hammered.
//
// `hostname` takes tpop3d's forms: "db1;db2" (its failover list) or
// white-space or comma separated, each entry "host", "host:port",
// "[v6addr]:port", a bare IPv6 address, or an absolute path (a unix socket;
// for PostgreSQL the socket's directory).
//
// Pure code, unit-tested on its own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace modpop3d::sql
{

struct Target {
    std::string host;   // name or address; empty for a socket
    unsigned port = 0;  // 0: the driver's default
    std::string socket; // absolute path, or empty
    std::string label() const;
};

bool parse_hosts(std::string_view text, std::vector<Target> &out, std::string &why);

// Backoff - one host's failures: after the n-th failure in a row the host is
// skipped for min(base * 2^(n-1), max). A success resets it.
class Backoff
{
  public:
    Backoff(uint64_t base_usec, uint64_t max_usec) : base_(base_usec), max_(max_usec) {}
    bool usable(uint64_t now) const { return failures_ == 0 || now >= next_try_; }
    // failed - record a failure at `now`; returns the delay chosen.
    uint64_t failed(uint64_t now);
    void succeeded() { failures_ = 0; }
    uint32_t failures() const { return failures_; }

  private:
    uint64_t base_, max_;
    uint32_t failures_ = 0;
    uint64_t next_try_ = 0;
};

} // namespace modpop3d::sql
