// auth_service.hpp - what the login side asks of authentication, wherever
// the auth modules run: in this process (AuthChain: inetd mode not started
// as root, tests) or in the daemon's auth process (RemoteAuth, over a
// socketpair).
//
// Every call may block (a backend, or the round trip to the auth process):
// the server makes them on its thread pool, never on the event loop, except
// run_hooks for events no hook instance subscribes to (has_hooks() false),
// which returns at once, and RemoteAuth's own LOGIN hook round trip. A
// worker's logins use RemoteAuth::login_async instead, which never blocks.
#pragma once

#include <cstdint>
#include <map>
#include <modpop3d/hook.h>
#include <string>
#include <vector>

struct modpop3d_session;

namespace modpop3d::daemon
{

struct AuthAnswer {
    int32_t status = MODPOP3D_E_NOUSER;
    std::map<std::string, std::string> result; // from result_set()
    std::string instance;                      // label of the instance that answered
};

class AuthService
{
  public:
    virtual ~AuthService() = default;

    // can_serve_credentials - some instance can give plaintext-equivalent
    // secrets (APOP, CRAM-MD5, SCRAM).
    virtual bool can_serve_credentials() const = 0;
    // has_hooks - some hook instance subscribes to `event`.
    virtual bool has_hooks(uint32_t event) const = 0;

    // login - USER/PASS, SASL PLAIN/LOGIN (`apop` false: `secret` is the
    // password) or APOP (`secret` is the digest), then the auth-time hooks
    // (run_auth_hooks): the whole check of a login the engine asked for.
    virtual AuthAnswer login(modpop3d_session &session, bool apop, const std::string &user,
                             const std::string &secret, const std::string &timestamp) = 0;
    // lookup_credentials - the user's stored secret ("password" in the
    // answer's result, with its scheme prefix) in the first of `schemes` an
    // instance can give. The caller wipes the secret.
    virtual AuthAnswer lookup_credentials(modpop3d_session &session, const std::string &user,
                                          const std::vector<std::string> &schemes) = 0;
    // run_hooks - call every hook instance subscribed to `event`; the first
    // veto (PERM or TEMP) at AUTH_OK or LOGIN is returned.
    virtual int32_t run_hooks(uint32_t event, modpop3d_session &session,
                              const modpop3d_event_info &info) = 0;
    // run_auth_hooks - after a credential check with `status`: AUTH_OK hooks
    // (a veto becomes TEMP or PERM) or AUTH_FAIL hooks. Returns the status
    // the login ends with.
    virtual int32_t run_auth_hooks(modpop3d_session &session, int32_t status) = 0;
    // finish_sasl_login - run_auth_hooks() for a login the worker checked
    // itself (CRAM-MD5, SCRAM, from lookup_credentials), then, when it
    // stands, on_login of `instance`, the one that gave the secret.
    virtual int32_t finish_sasl_login(modpop3d_session &session, int32_t status,
                                      const std::string &instance) = 0;
};

} // namespace modpop3d::daemon
