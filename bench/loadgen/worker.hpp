// worker.hpp - one load-generating thread: its own epoll loop driving many
// non-blocking POP3 sessions (optionally over implicit TLS), checking every
// reply against the manifest as it arrives.
#pragma once

#include "session.hpp"

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

using SSL_CTX = struct ssl_ctx_st;
using SSL_SESSION = struct ssl_session_st;

namespace bench
{

struct WorkerConfig {
    uint16_t port = 0;
    unsigned concurrency = 1;       // sessions in flight, not counting held ones
    std::size_t buffer = 80 * 1024; // input buffer per connection
    SSL_CTX *tls = nullptr;         // implicit TLS when set
    bool tls_resume = false;        // offer the last session ticket
    std::chrono::steady_clock::time_point deadline;
};

// Shared between workers and the main thread for the idle scenario.
struct HoldBarrier {
    std::atomic<unsigned> held{0};
    std::atomic<unsigned> failed{0}; // sessions that ended in an error
    std::atomic<bool> release{false};
};

// enable_resumption - keep each worker's newest session ticket and offer it
// on the worker's next connection.
void enable_resumption(SSL_CTX *ctx);

class Worker
{
  public:
    Worker(const WorkerConfig &cfg, std::vector<Session> sessions, HoldBarrier &barrier);
    ~Worker();
    Worker(const Worker &) = delete;
    Worker &operator=(const Worker &) = delete;

    void run();
    const Stats &stats() const { return stats_; }
    // Called by OpenSSL's new-session callback (resumption).
    void keep_session(SSL_SESSION *s);
    // The newest unused ticket (owned by the caller), or null.
    SSL_SESSION *take_session();

  private:
    struct Conn;
    void start(std::size_t index);
    void on_event(Conn &c, uint32_t events);
    void drive(Conn &c);
    bool flush(Conn &c);
    bool begin_step(Conn &c);
    bool check_reply(Conn &c);
    void fail(Conn &c, const std::string &why);
    void finish(Conn &c);
    void close_conn(Conn &c);
    void watch(Conn &c);

    WorkerConfig cfg_;
    std::vector<Session> sessions_;
    HoldBarrier &barrier_;
    Stats stats_;
    int epfd_ = -1;
    std::size_t next_ = 0;
    unsigned active_ = 0; // connections not holding
    std::vector<std::unique_ptr<Conn>> conns_;
    // Session tickets not used yet, oldest first. A TLS 1.3 client uses a
    // ticket once (OpenSSL marks it spent when it resumes with it), so
    // concurrent connections each need their own.
    std::deque<SSL_SESSION *> tickets_;
    std::vector<std::unique_ptr<char[]>> spare_in_; // closed connections' input buffers
    // UIDL stability: the first listing per user, and UIDL -> digest.
    // user -> UIDL listing text (shared with the session that received it: no copy)
    std::unordered_map<std::string, std::shared_ptr<const std::string>> uidls_;
    std::unordered_map<std::string, std::string> uid_digest_;
};

} // namespace bench
