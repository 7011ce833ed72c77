// auth_chain.hpp - the ordered chain of auth instances, login-name
// rewriting, APOP, and the auth-time hooks.
//
// Chain rule (DESIGN.md): instances are asked in priority order; NOUSER (and
// NOTSUP for a scheme) asks the next one; BADPASS, PERM and TEMP stop the
// chain. Calls may block: the server runs them on its thread pool. An
// instance without MODPOP3D_MODF_THREAD_SAFE is called by one thread at a
// time.
//
// The optional positive cache (auth-cache-ttl): a successful verify_plain is
// remembered under (user, HMAC-SHA256 of the password with a random
// per-process key) until its lifetime ends, so a client polling every minute
// does not hit a slow backend each time. The password itself is never kept.
// Failures are never cached; APOP is not cached. Trade-off (documented in
// modpop3d.conf(5)): a password changed or a user removed in the backend
// still logs in with the old password until the entry expires.
#pragma once

#include "auth/auth_service.hpp"
#include "config/core_config.hpp"
#include "modload/module_set.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace modpop3d::daemon
{

// AuthCache - bounded, thread-safe map of successful plain logins with a
// lifetime. Entries are keyed by user and a keyed hash of the password; the
// oldest entry is dropped when the cache is full.
class AuthCache
{
  public:
    using Clock = std::chrono::steady_clock;

    AuthCache(int64_t ttl_ms, int64_t max_entries);
    ~AuthCache();
    AuthCache(const AuthCache &) = delete;
    AuthCache &operator=(const AuthCache &) = delete;

    bool enabled() const { return ttl_ms_ > 0 && max_entries_ > 0; }
    int64_t ttl_ms() const { return ttl_ms_; }
    std::size_t max_entries() const { return max_entries_; }
    // find - the cached answer for (user, password) if fresh at `now`.
    bool find(const std::string &user, const std::string &password, AuthAnswer &out,
              Clock::time_point now = Clock::now());
    // store - remember a successful answer (status must be OK).
    void store(const std::string &user, const std::string &password, const AuthAnswer &answer,
               Clock::time_point now = Clock::now());
    std::size_t size() const;

  private:
    std::string key(const std::string &user, const std::string &password) const;

    struct Entry {
        Clock::time_point expires;
        AuthAnswer answer;
        std::list<std::string>::iterator order;
    };
    int64_t ttl_ms_;
    std::size_t max_entries_;
    std::array<unsigned char, 32> hmac_key_{};
    mutable std::mutex mutex_;
    std::map<std::string, Entry> entries_;
    std::list<std::string> order_; // keys, oldest first
};

class AuthChain : public AuthService
{
  public:
    // cache_ttl_ms 0 (the default) turns the positive cache off.
    explicit AuthChain(const modload::ModuleSet &modules, int64_t cache_ttl_ms = 0,
                       int64_t cache_size = 0);

    bool empty() const { return auth_.empty(); }
    // login_cached - a plain login answered from the positive cache, when
    // the entry is there and no hook runs at AUTH_OK: nothing in it can
    // block, so the auth process answers it on its event loop. False: ask
    // login().
    bool login_cached(const std::string &user, const std::string &password, AuthAnswer &out);
    // log_cache - "event=auth_cache" where logins are checked (the auth
    // process, inetd mode), when the cache is on.
    void log_cache() const;
    // can_serve_credentials - some instance can give plaintext-equivalent
    // secrets (APOP, CRAM-MD5).
    bool can_serve_credentials() const override;
    bool has_hooks(uint32_t event) const override;

    AuthAnswer verify_plain(modpop3d_session &session, const std::string &user,
                            const std::string &password);
    AuthAnswer verify_apop(modpop3d_session &session, const std::string &user,
                           const std::string &timestamp, const std::string &digest);
    // lookup_credentials - the user's stored secret ("password" in the
    // answer's result, with its scheme prefix) in the first of `schemes` an
    // instance can give. Chain rule as for verify_plain: NOUSER, and NOTSUP
    // for every scheme, ask the next instance. The caller wipes the secret.
    AuthAnswer login(modpop3d_session &session, bool apop, const std::string &user,
                     const std::string &secret, const std::string &timestamp) override;
    AuthAnswer lookup_credentials(modpop3d_session &session, const std::string &user,
                                  const std::vector<std::string> &schemes) override;

    // run_hooks - call every hook instance subscribed to `event`; the first
    // veto (PERM or TEMP) at AUTH_OK or LOGIN is returned.
    int32_t run_hooks(uint32_t event, modpop3d_session &session,
                      const modpop3d_event_info &info) override;
    // run_auth_hooks - after a credential check with `status`: AUTH_OK hooks
    // (a veto becomes TEMP or PERM) or AUTH_FAIL hooks. Returns the status
    // the login ends with. Auth threads only (hooks may block).
    int32_t run_auth_hooks(modpop3d_session &session, int32_t status) override;
    int32_t finish_sasl_login(modpop3d_session &session, int32_t status,
                              const std::string &instance) override;
    // has_on_login - some auth instance implements auth_ops.on_login.
    bool has_on_login() const;

    // Counters of the positive cache (tests, diagnostics).
    uint64_t cache_hits() const { return cache_hits_.load(); }
    uint64_t cache_misses() const { return cache_misses_.load(); }

  private:
    // run_on_login - after a successful login(): on_login of the instance
    // that answered (see auth_chain.cpp).
    void run_on_login(modpop3d_session &session, const AuthAnswer &answer);
    AuthAnswer verify_plain_uncached(modpop3d_session &session, const std::string &user,
                                     const std::string &password);

    // call - one call into `inst`: at once when its module is
    // MODPOP3D_MODF_THREAD_SAFE, else under the instance's own mutex.
    template <class Fn> int32_t call(const modload::Instance *inst, Fn &&fn);

    std::vector<modload::Instance *> auth_;
    std::vector<modload::Instance *> hooks_;
    std::map<const modload::Instance *, std::unique_ptr<std::mutex>> locks_;
    AuthCache cache_;
    std::atomic<uint64_t> cache_hits_{0};
    std::atomic<uint64_t> cache_misses_{0};
};

// rewrite_login - apply lowercase-user, domain-separators, strip-domain and
// append-domain (tpop3d's login rewriting). Returns "" for a name the server
// refuses outright (empty, too long, control characters, white space).
// `listener_domain` (the listener's domain= option), when not empty, takes
// the place of append-domain.
std::string rewrite_login(const std::string &login, const config::CoreSettings &settings,
                          const std::string &listener_domain = {});

// apop_digest - lower-case hex MD5 of timestamp followed by secret.
std::string apop_digest(const std::string &timestamp, const std::string &secret);

} // namespace modpop3d::daemon
