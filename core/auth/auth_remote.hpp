// auth_remote.hpp - the login side of the auth process: every AuthService
// call becomes a request on the process's socketpair to the auth process.
//
// The event loop of the server that owns it reads the answers: it watches
// socket(), calls on_readable() when it is readable and expire() on its
// timer. A login (login_async) and the LOGIN hooks (hooks_async) are sent
// from the event loop and their answers handed to a callback on the event
// loop, with no thread in between; the other calls block their caller (a
// pool thread) until the answer comes, at most `timeout_ms`.
// Then they fail with TEMP ("-ERR [SYS/TEMP]"), which is also what a client
// sees while a crashed auth process is being restarted.
//
// Request ids start at a random value, so a worker restarted on the same
// socketpair discards answers meant for its predecessor.
#pragma once

#include "auth/auth_service.hpp"
#include "ipc/message.hpp"
#include "ipc/outbox.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace modpop3d::daemon
{

class RemoteAuth : public AuthService
{
  public:
    struct Facts {
        bool can_serve_credentials = false;
        uint32_t hook_events = 0; // MODPOP3D_EV_* some hook instance wants
        bool on_login = false;    // some auth instance has auth_ops.on_login
    };
    using Done = std::function<void(AuthAnswer)>;

    // RemoteAuth - `socket` stays owned by the caller. The constructing
    // thread is the event loop's.
    RemoteAuth(int socket, Facts facts, int64_t timeout_ms);
    RemoteAuth(const RemoteAuth &) = delete;
    RemoteAuth &operator=(const RemoteAuth &) = delete;

    int socket() const { return socket_; }
    // on_readable - take every answer waiting on the socket. False once the
    // other end is gone for good (a session process whose auth process
    // exited): stop watching the socket; pending requests then time out.
    bool on_readable();
    // Requests wait in an outbox while the socket is full (never dropped):
    // the owner watches for writability while sending() and calls
    // on_writable(), which returns whether some still wait. on_backlog
    // (called from any thread) says the queue is no longer empty.
    bool sending() const { return outbox_.waiting(); }
    bool on_writable();
    void on_backlog(std::function<void()> callback) { outbox_.on_backlog(std::move(callback)); }
    // expire - fail the logins that have waited longer than the timeout.
    void expire();
    // run_deferred - answers that arrived while the event loop itself was
    // waiting for another (a LOGIN hook): their callbacks run here.
    void run_deferred();

    // login_async - login() without blocking: `done` runs on the event loop.
    void login_async(modpop3d_session &session, bool apop, const std::string &user,
                     const std::string &secret, const std::string &timestamp, Done done);
    // hooks_async - run_hooks() of a vetoing event (LOGIN) without blocking:
    // `done` runs on the event loop with the verdict (status), or with TEMP
    // once `timeout_ms` has passed without one.
    void hooks_async(uint32_t event, modpop3d_session &session, const modpop3d_event_info &info,
                     int64_t timeout_ms, Done done);

    bool can_serve_credentials() const override { return facts_.can_serve_credentials; }
    bool has_hooks(uint32_t event) const override { return (facts_.hook_events & event) != 0; }

    AuthAnswer login(modpop3d_session &session, bool apop, const std::string &user,
                     const std::string &secret, const std::string &timestamp) override;
    AuthAnswer lookup_credentials(modpop3d_session &session, const std::string &user,
                                  const std::vector<std::string> &schemes) override;
    int32_t run_hooks(uint32_t event, modpop3d_session &session,
                      const modpop3d_event_info &info) override;
    int32_t run_auth_hooks(modpop3d_session &session, int32_t status) override;
    int32_t finish_sasl_login(modpop3d_session &session, int32_t status,
                              const std::string &instance) override;

  private:
    struct Pending {
        bool done = false;
        ipc::Message answer;
        uint64_t id = 0;           // set by send()
        Done callback;             // set: an asynchronous login or LOGIN hook run
        uint64_t deadline_ms = 0;  // of an asynchronous one
        uint64_t timeout_ms = 0;   // what deadline_ms was set from (for the log)
        const char *what = "auth"; // "hook": a LOGIN hook run (its own log line)
    };
    // send - give `request` its id and send it; `pending` (may be null: no
    // answer wanted) is registered first so the answer cannot overtake it.
    bool send(ipc::Message &request, const std::shared_ptr<Pending> &pending);
    // call - send `request` and block until its answer (or the timeout).
    AuthAnswer call(ipc::Message request, bool wait = true);
    // drain - read answers until the socket is empty; the callbacks of
    // asynchronous ones are queued on deferred_. False: the socket is gone.
    bool drain();
    // wait_on_loop - the event loop's own blocking call: it reads the socket
    // itself, as nobody else will, until `p` is answered or `deadline_ms`.
    void wait_on_loop(const std::shared_ptr<Pending> &p, uint64_t deadline_ms);
    static AuthAnswer answer_of(ipc::Message &m);
    void log_timeout(const char *what, uint64_t timeout_ms) const;

    int socket_;
    Facts facts_;
    int64_t timeout_ms_;
    std::thread::id loop_thread_;
    std::atomic<uint64_t> next_id_;
    std::mutex mutex_; // pending_, deferred_
    std::condition_variable arrived_;
    std::map<uint64_t, std::shared_ptr<Pending>> pending_;
    std::vector<std::shared_ptr<Pending>> deferred_;
    ipc::Outbox outbox_;
};

} // namespace modpop3d::daemon
