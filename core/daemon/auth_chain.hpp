// auth_chain.hpp - the ordered chain of auth instances, login-name
// rewriting, APOP, and the auth-time hooks.
//
// Chain rule (DESIGN.md): instances are asked in priority order; NOUSER (and
// NOTSUP for a scheme) asks the next one; BADPASS, PERM and TEMP stop the
// chain. Calls may block: the server runs them on its thread pool. An
// instance without MODPOP3D_MODF_THREAD_SAFE is called by one thread at a
// time.
#pragma once

#include "config/core_config.hpp"
#include "modload/module_set.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace modpop3d::daemon
{

struct AuthAnswer {
    int32_t status = MODPOP3D_E_NOUSER;
    std::map<std::string, std::string> result; // from result_set()
    std::string instance;                      // label of the instance that answered
};

class AuthChain
{
  public:
    explicit AuthChain(const modload::ModuleSet &modules);

    bool empty() const { return auth_.empty(); }
    // can_serve_credentials - some instance can give plaintext-equivalent
    // secrets (APOP, CRAM-MD5).
    bool can_serve_credentials() const;

    AuthAnswer verify_plain(modpop3d_session &session, const std::string &user,
                            const std::string &password);
    AuthAnswer verify_apop(modpop3d_session &session, const std::string &user,
                           const std::string &timestamp, const std::string &digest);

    // run_hooks - call every hook instance subscribed to `event`; the first
    // veto (PERM or TEMP) at AUTH_OK or LOGIN is returned.
    int32_t run_hooks(uint32_t event, modpop3d_session &session, const modpop3d_event_info &info);

  private:
    std::mutex &lock_for(const modload::Instance *inst);

    std::vector<modload::Instance *> auth_;
    std::vector<modload::Instance *> hooks_;
    std::map<const modload::Instance *, std::unique_ptr<std::mutex>> locks_;
};

// rewrite_login - apply lowercase-user, domain-separators, strip-domain and
// append-domain (tpop3d's login rewriting). Returns "" for a name the server
// refuses outright (empty, too long, control characters, white space).
std::string rewrite_login(const std::string &login, const config::CoreSettings &settings);

// apop_digest - lower-case hex MD5 of timestamp followed by secret.
std::string apop_digest(const std::string &timestamp, const std::string &secret);

} // namespace modpop3d::daemon
