// shared_limits.hpp - the limits that must hold across all worker
// processes: connections in total and per client address (IPv6: per /64),
// the per-address failed-login counters behind the growing delays, and
// LOGIN-DELAY's last login per user.
//
// The master maps one anonymous shared region before it forks any worker;
// every worker inherits it. Everything in it is a fixed-size table of
// lock-free atomics, so a worker that dies holding no lock can never wedge
// the others. Connection counts are kept in one column per worker slot: a
// worker only ever changes its own column, and when a worker dies the
// master clears that column (clear_slot), so a crash leaks no counts.
//
// Keys are hashed with a keyed hash (SipHash-1-3 under a random key chosen
// by the master), so a client cannot aim its address at someone else's
// bucket. Collisions err on the safe side and are documented per table:
//   per-address connections: two addresses in one bucket share its count
//     (one may be refused early; never admitted over the limit);
//   failed logins: two addresses in one bucket share the counter (more
//     delay, never less);
//   LOGIN-DELAY: 4-way sets with a 24-bit tag; a tag collision makes two
//     users share one last-login time (a login refused early); a set full
//     of logins younger than the delay forgets its oldest one.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace modpop3d::ipc
{

class SharedLimits
{
  public:
    // Worker slots (columns). A generation of workers and the generations
    // still draining after reloads share them.
    static constexpr unsigned max_slots = 256;
    // The master's own column: system users' session processes that took
    // a plain connection over from a worker (a TLS one stays counted by the
    // worker that relays it). Never given to a worker.
    static constexpr unsigned session_slot = max_slots - 1;
    static constexpr unsigned ip_buckets = 8192;
    static constexpr unsigned failure_buckets = 65536;
    static constexpr unsigned login_sets = 16384;
    static constexpr unsigned login_ways = 4;

    // Maps the region (MAP_SHARED | MAP_ANONYMOUS) and draws the hash key.
    // Throws std::runtime_error when the mapping fails.
    SharedLimits();
    ~SharedLimits();
    SharedLimits(const SharedLimits &) = delete;
    SharedLimits &operator=(const SharedLimits &) = delete;

    // admit - count one new connection from `ip_key` in `slot`'s column.
    // nullptr when admitted; else "limit_total" or "limit_ip" (nothing
    // counted). Increment-then-check: two workers racing at the limit may
    // both refuse, never both admit past it.
    const char *admit(unsigned slot, std::string_view ip_key, int64_t max_total, int64_t max_ip);
    // release - the connection admitted in `slot` ended.
    void release(unsigned slot, std::string_view ip_key);
    // connections - admitted connections in all slots.
    int64_t connections() const;

    // record_failure - one more failed login from `ip_key` at `now_ms`;
    // returns the recent failures (1..8; forgotten after 10 minutes quiet).
    uint32_t record_failure(std::string_view ip_key, uint64_t now_ms);

    // LOGIN-DELAY. claim_login succeeds (true) when `user` has not logged
    // in within `delay_ms` and records `now_ms` as its last login; `claim`
    // then lets a login that fails later undo it (unclaim_login).
    struct Claim {
        std::size_t index = 0;
        uint64_t previous = 0, value = 0;
    };
    bool claim_login(std::string_view user, uint64_t now_ms, uint64_t delay_ms, Claim &claim);
    void unclaim_login(const Claim &claim);

    // clear_slot - zero a dead worker's column (master, after waitpid).
    void clear_slot(unsigned slot);

  private:
    struct Region;
    uint64_t hash(std::string_view key, uint64_t domain) const;

    Region *region_ = nullptr;
    std::size_t size_ = 0;
    uint64_t k0_ = 0, k1_ = 0;
};

} // namespace modpop3d::ipc
