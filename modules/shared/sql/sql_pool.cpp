// sql_pool.cpp - the bounded connection pool with failover (see header).
#include "sql_pool.hpp"

#include <chrono>
#include <modpop3d/host.h>
#include <time.h>

namespace modpop3d::sql
{

uint64_t now_usec()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

Pool::Pool(Driver &driver, const Settings &settings, std::size_t max, uint64_t retry_base_usec,
           uint64_t retry_max_usec, Logger log)
    : driver_(driver), settings_(settings), max_(max == 0 ? 1 : max), log_(std::move(log))
{
    for (std::size_t i = 0; i < settings_.hosts.size(); ++i)
        backoff_.emplace_back(retry_base_usec, retry_max_usec);
}

Pool::~Pool() = default;

std::size_t Pool::open_connections() const
{
    std::lock_guard lock(mutex_);
    return total_;
}

std::unique_ptr<Connection> Pool::connect_any(std::size_t &host, std::string &why)
{
    std::string last;
    bool tried = false;
    for (std::size_t i = 0; i < settings_.hosts.size(); ++i) {
        {
            std::lock_guard lock(mutex_);
            if (!backoff_[i].usable(now_usec()))
                continue;
        }
        tried = true;
        const Target &t = settings_.hosts[i];
        std::string err;
        std::unique_ptr<Connection> c = driver_.connect(t, settings_, err);
        std::lock_guard lock(mutex_);
        if (c) {
            if (backoff_[i].failures() != 0)
                log_(MODPOP3D_LOG_NOTICE, "event=db_reconnected host=" + t.label());
            backoff_[i].succeeded();
            host = i;
            return c;
        }
        const uint64_t delay = backoff_[i].failed(now_usec());
        // The first failure in a row is a warning; repeats while the host
        // stays down are debug, so an outage does not flood the log.
        log_(backoff_[i].failures() == 1 ? MODPOP3D_LOG_WARNING : MODPOP3D_LOG_DEBUG,
             "event=db_connect_failed host=" + t.label() +
                 " retry_in_ms=" + std::to_string(delay / 1000) + " reason=\"" + err + "\"");
        last = t.label() + ": " + err;
    }
    why = tried ? "no database host answered (last: " + last + ")"
                : "every database host is in its retry back-off";
    return nullptr;
}

bool Pool::acquire(Lease &lease, std::string &why)
{
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(settings_.connect_timeout_ms);
    std::vector<std::unique_ptr<Connection>> stale; // closed outside the lock
    std::unique_lock lock(mutex_);
    for (;;) {
        while (!idle_.empty()) {
            Idle i = std::move(idle_.back());
            idle_.pop_back();
            if (i.generation < generation_ || !i.conn->usable()) {
                stale.push_back(std::move(i.conn));
                --total_;
                continue;
            }
            lease.conn = std::move(i.conn);
            lease.host = i.host;
            lease.generation = i.generation;
            lease.reused = true;
            lock.unlock();
            return true;
        }
        if (total_ < max_) {
            ++total_;
            const uint64_t gen = generation_;
            lock.unlock();
            stale.clear();
            std::size_t host = 0;
            auto c = connect_any(host, why);
            if (!c) {
                std::lock_guard relock(mutex_);
                --total_;
                freed_.notify_one();
                return false;
            }
            lease.conn = std::move(c);
            lease.host = host;
            lease.generation = gen;
            lease.reused = false;
            return true;
        }
        if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
            total_ >= max_) {
            why = "all " + std::to_string(max_) + " pooled connections stayed busy";
            return false;
        }
    }
}

void Pool::release(Lease &&lease)
{
    if (!lease.conn)
        return;
    if (!lease.conn->usable())
        return broken(std::move(lease));
    std::lock_guard lock(mutex_);
    idle_.push_back(Idle{std::move(lease.conn), lease.host, lease.generation});
    freed_.notify_one();
}

void Pool::broken(Lease &&lease)
{
    std::vector<Idle> dropped;
    {
        std::lock_guard lock(mutex_);
        if (lease.conn)
            --total_;
        // Idle connections opened before this one failed are suspect too.
        if (lease.generation >= generation_)
            generation_ = lease.generation + 1;
        std::vector<Idle> keep;
        for (auto &i : idle_) {
            if (i.generation < generation_) {
                dropped.push_back(std::move(i));
                --total_;
            } else {
                keep.push_back(std::move(i));
            }
        }
        idle_ = std::move(keep);
        freed_.notify_all();
    }
    lease.conn.reset();
    dropped.clear(); // closes them, outside the lock
}

} // namespace modpop3d::sql
