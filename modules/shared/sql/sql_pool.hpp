// sql_pool.hpp - a bounded pool of persistent connections shared by the auth
// threads, over the instance's hosts in failover order.
//
// At most `max` connections exist at once (idle, in use or being opened);
// a thread that finds none free waits up to connect-timeout, then the login
// gets TEMP. A new connection goes to the first host whose back-off allows
// it (tpop3d's host1;host2 failover); a host that failed is skipped for a
// growing time (retry-interval doubling up to retry-max). When a connection
// breaks, every idle connection older than it is dropped too (after a server
// restart they are all dead) and the statement is retried once on a fresh
// connection.
#pragma once

#include "sql_driver.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace modpop3d::sql
{

class Pool
{
  public:
    // log(level, text): the instance's logger (syslog levels).
    using Logger = std::function<void(int, const std::string &)>;

    Pool(Driver &driver, const Settings &settings, std::size_t max, uint64_t retry_base_usec,
         uint64_t retry_max_usec, Logger log);
    ~Pool();
    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;

    struct Lease {
        std::unique_ptr<Connection> conn;
        std::size_t host = 0;
        uint64_t generation = 0;
        bool reused = false;
    };

    // acquire - a connection, idle or new. False (answer TEMP) with `why`
    // when the pool stayed full past connect-timeout or no host answered.
    bool acquire(Lease &lease, std::string &why);
    // release - give it back (kept when still usable, else closed).
    void release(Lease &&lease);
    // broken - the connection failed: close it and every idle one older.
    void broken(Lease &&lease);

    // For tests and diagnostics: connections that exist now.
    std::size_t open_connections() const;

  private:
    std::unique_ptr<Connection> connect_any(std::size_t &host, std::string &why);

    struct Idle {
        std::unique_ptr<Connection> conn;
        std::size_t host;
        uint64_t generation;
    };

    Driver &driver_;
    const Settings &settings_;
    const std::size_t max_;
    Logger log_;
    mutable std::mutex mutex_;
    std::condition_variable freed_;
    std::vector<Idle> idle_;
    std::size_t total_ = 0; // idle + leased + being opened
    uint64_t generation_ = 0;
    std::vector<Backoff> backoff_; // per host, under mutex_
};

// now_usec - CLOCK_MONOTONIC in microseconds.
uint64_t now_usec();

} // namespace modpop3d::sql
