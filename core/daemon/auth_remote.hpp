// auth_remote.hpp - the login worker's side of the auth process: every
// AuthService call becomes a request on the worker's socketpair to the auth
// process and waits (on a pool thread) for its answer, at most
// `timeout_ms`; then it fails with TEMP ("-ERR [SYS/TEMP]"), which is also
// what a client sees while a crashed auth process is being restarted.
//
// One reader thread takes the answers off the socket and hands each to the
// thread waiting for it. Request ids start at a random value, so a worker
// restarted on the same socketpair discards answers meant for its
// predecessor.
#pragma once

#include "daemon/auth_service.hpp"
#include "ipc/message.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace modpop3d::daemon
{

class RemoteAuth : public AuthService
{
  public:
    struct Facts {
        bool can_serve_credentials = false;
        uint32_t hook_events = 0; // MODPOP3D_EV_* some hook instance wants
    };
    // RemoteAuth - `socket` stays owned by the caller.
    RemoteAuth(int socket, Facts facts, int64_t timeout_ms);
    ~RemoteAuth() override;
    RemoteAuth(const RemoteAuth &) = delete;
    RemoteAuth &operator=(const RemoteAuth &) = delete;

    bool can_serve_credentials() const override { return facts_.can_serve_credentials; }
    bool has_hooks(uint32_t event) const override { return (facts_.hook_events & event) != 0; }

    AuthAnswer login(modpop3d_session &session, bool apop, const std::string &user,
                     const std::string &secret, const std::string &timestamp) override;
    AuthAnswer lookup_credentials(modpop3d_session &session, const std::string &user,
                                  const std::vector<std::string> &schemes) override;
    int32_t run_hooks(uint32_t event, modpop3d_session &session,
                      const modpop3d_event_info &info) override;
    int32_t run_auth_hooks(modpop3d_session &session, int32_t status) override;

  private:
    // call - send `request` (its id is set here) and wait for the answer.
    AuthAnswer call(ipc::Message request, bool wait = true);
    void read_answers();

    int socket_;
    Facts facts_;
    int64_t timeout_ms_;
    int stop_fd_ = -1;
    std::atomic<uint64_t> next_id_;
    std::mutex mutex_;
    std::condition_variable arrived_;
    struct Pending {
        bool done = false;
        ipc::Message answer;
    };
    std::map<uint64_t, Pending *> pending_;
    std::mutex send_mutex_;
    std::thread reader_;
};

} // namespace modpop3d::daemon
