// auth_chain.cpp - the auth chain, login rewriting and APOP (see header).
//
// DIAGNOSTICS: a module answering an unexpected status is logged with its
// instance label; passwords never are.
#include "daemon/auth_chain.hpp"

#include "util/log.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdexcept>
#include <sys/random.h>

namespace modpop3d::daemon
{

namespace
{

const modpop3d_auth_ops &auth_ops(const modload::Instance *i)
{
    return *static_cast<const modpop3d_auth_ops *>(i->module->desc->ops);
}

bool thread_safe(const modload::Instance *i)
{
    return (i->module->desc->flags & MODPOP3D_MODF_THREAD_SAFE) != 0;
}

} // namespace

AuthCache::AuthCache(int64_t ttl_ms, int64_t max_entries)
    : ttl_ms_(ttl_ms), max_entries_(max_entries > 0 ? static_cast<std::size_t>(max_entries) : 0)
{
    if (!enabled())
        return;
    // A fresh key per process: a hash seen in memory or a core file is
    // useless for guessing passwords offline elsewhere.
    std::size_t got = 0;
    for (int tries = 0; got < hmac_key_.size() && tries < 100; ++tries) {
        ssize_t n = getrandom(hmac_key_.data() + got, hmac_key_.size() - got, 0);
        if (n > 0)
            got += static_cast<std::size_t>(n);
        else if (n < 0 && errno != EINTR)
            break;
    }
    if (got != hmac_key_.size())
        throw std::runtime_error("auth cache: getrandom failed");
}

AuthCache::~AuthCache()
{
    OPENSSL_cleanse(hmac_key_.data(), hmac_key_.size());
}

std::string AuthCache::key(const std::string &user, const std::string &password) const
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), hmac_key_.data(), static_cast<int>(hmac_key_.size()),
         reinterpret_cast<const unsigned char *>(password.data()), password.size(), md, &len);
    // The user name cannot contain NUL (rewrite_login refuses controls).
    std::string k = user;
    k += '\0';
    k.append(reinterpret_cast<const char *>(md), len);
    return k;
}

bool AuthCache::find(const std::string &user, const std::string &password, AuthAnswer &out,
                     Clock::time_point now)
{
    if (!enabled())
        return false;
    std::string k = key(user, password);
    std::lock_guard lock(mutex_);
    auto it = entries_.find(k);
    if (it == entries_.end())
        return false;
    if (now >= it->second.expires) {
        order_.erase(it->second.order);
        entries_.erase(it);
        return false;
    }
    out = it->second.answer;
    return true;
}

void AuthCache::store(const std::string &user, const std::string &password,
                      const AuthAnswer &answer, Clock::time_point now)
{
    if (!enabled() || answer.status != MODPOP3D_OK)
        return;
    std::string k = key(user, password);
    std::lock_guard lock(mutex_);
    auto it = entries_.find(k);
    if (it != entries_.end()) {
        order_.erase(it->second.order);
        entries_.erase(it);
    }
    while (entries_.size() >= max_entries_ && !order_.empty()) {
        entries_.erase(order_.front());
        order_.pop_front();
    }
    order_.push_back(k);
    Entry e{now + std::chrono::milliseconds(ttl_ms_), answer, std::prev(order_.end())};
    entries_.emplace(std::move(k), std::move(e));
}

std::size_t AuthCache::size() const
{
    std::lock_guard lock(mutex_);
    return entries_.size();
}

AuthChain::AuthChain(const modload::ModuleSet &modules, int64_t cache_ttl_ms, int64_t cache_size)
    : auth_(modules.of_kind(MODPOP3D_KIND_AUTH)), hooks_(modules.of_kind(MODPOP3D_KIND_HOOK)),
      cache_(cache_ttl_ms, cache_size)
{
    for (auto *i : auth_)
        locks_[i] = std::make_unique<std::mutex>();
    for (auto *i : hooks_)
        locks_[i] = std::make_unique<std::mutex>();
}

std::mutex &AuthChain::lock_for(const modload::Instance *inst)
{
    return *locks_.at(inst);
}

bool AuthChain::can_serve_credentials() const
{
    return std::any_of(auth_.begin(), auth_.end(), [](const modload::Instance *i) {
        return (auth_ops(i).caps & MODPOP3D_AUTHC_CREDENTIALS) && auth_ops(i).lookup_credentials;
    });
}

AuthAnswer AuthChain::verify_plain(modpop3d_session &session, const std::string &user,
                                   const std::string &password)
{
    if (!cache_.enabled())
        return verify_plain_uncached(session, user, password);
    AuthAnswer answer;
    if (cache_.find(user, password, answer)) {
        ++cache_hits_;
        log::writef(log::Debug, answer.instance, "event=auth_cache_hit user=%s", user.c_str());
        return answer;
    }
    ++cache_misses_;
    answer = verify_plain_uncached(session, user, password);
    if (answer.status == MODPOP3D_OK)
        cache_.store(user, password, answer);
    return answer;
}

AuthAnswer AuthChain::verify_plain_uncached(modpop3d_session &session, const std::string &user,
                                            const std::string &password)
{
    AuthAnswer answer;
    for (auto *inst : auth_) {
        const auto &ops = auth_ops(inst);
        if (!(ops.caps & MODPOP3D_AUTHC_PLAIN) || ops.verify_plain == nullptr)
            continue;
        modpop3d_auth_result res;
        int32_t rc;
        if (thread_safe(inst)) {
            rc = ops.verify_plain(inst->inst, &session, user.c_str(), password.data(),
                                  password.size(), &res);
        } else {
            std::lock_guard lock(lock_for(inst));
            rc = ops.verify_plain(inst->inst, &session, user.c_str(), password.data(),
                                  password.size(), &res);
        }
        if (rc == MODPOP3D_E_NOUSER || rc == MODPOP3D_E_NOTSUP)
            continue;
        answer.status = rc;
        answer.instance = inst->label();
        if (rc == MODPOP3D_OK)
            answer.result = std::move(res.values);
        return answer;
    }
    return answer;
}

AuthAnswer AuthChain::verify_apop(modpop3d_session &session, const std::string &user,
                                  const std::string &timestamp, const std::string &digest)
{
    AuthAnswer answer;
    const modpop3d_host *host = modload::host_table();
    for (auto *inst : auth_) {
        const auto &ops = auth_ops(inst);
        if (!(ops.caps & MODPOP3D_AUTHC_CREDENTIALS) || ops.lookup_credentials == nullptr)
            continue;
        modpop3d_auth_result res;
        int32_t rc;
        if (thread_safe(inst)) {
            rc = ops.lookup_credentials(inst->inst, &session, user.c_str(), "PLAIN", &res);
        } else {
            std::lock_guard lock(lock_for(inst));
            rc = ops.lookup_credentials(inst->inst, &session, user.c_str(), "PLAIN", &res);
        }
        if (rc == MODPOP3D_E_NOUSER || rc == MODPOP3D_E_NOTSUP)
            continue;
        answer.status = rc;
        answer.instance = inst->label();
        if (rc != MODPOP3D_OK)
            return answer;
        std::string stored = res.values["password"];
        const std::string prefix = "{PLAIN}";
        if (stored.compare(0, prefix.size(), prefix) != 0) {
            answer.status = MODPOP3D_E_BADPASS; // no plaintext-equivalent secret for this user
            return answer;
        }
        std::string expect = apop_digest(timestamp, stored.substr(prefix.size()));
        bool match = expect.size() == digest.size() &&
                     host->const_time_equal(expect.data(), digest.data(), expect.size());
        std::fill(stored.begin(), stored.end(), '\0');
        res.values.erase("password");
        if (!match) {
            answer.status = MODPOP3D_E_BADPASS;
            return answer;
        }
        answer.result = std::move(res.values);
        return answer;
    }
    return answer;
}

AuthAnswer AuthChain::lookup_credentials(modpop3d_session &session, const std::string &user,
                                         const std::vector<std::string> &schemes)
{
    AuthAnswer answer;
    for (auto *inst : auth_) {
        const auto &ops = auth_ops(inst);
        if (!(ops.caps & MODPOP3D_AUTHC_CREDENTIALS) || ops.lookup_credentials == nullptr)
            continue;
        int32_t rc = MODPOP3D_E_NOTSUP;
        modpop3d_auth_result res;
        for (const std::string &scheme : schemes) {
            res.values.clear();
            if (thread_safe(inst)) {
                rc = ops.lookup_credentials(inst->inst, &session, user.c_str(), scheme.c_str(),
                                            &res);
            } else {
                std::lock_guard lock(lock_for(inst));
                rc = ops.lookup_credentials(inst->inst, &session, user.c_str(), scheme.c_str(),
                                            &res);
            }
            if (rc != MODPOP3D_E_NOTSUP)
                break;
        }
        if (rc == MODPOP3D_E_NOUSER || rc == MODPOP3D_E_NOTSUP)
            continue;
        answer.status = rc;
        answer.instance = inst->label();
        if (rc == MODPOP3D_OK)
            answer.result = std::move(res.values);
        return answer;
    }
    return answer;
}

int32_t AuthChain::run_auth_hooks(modpop3d_session &session, int32_t status)
{
    modpop3d_event_info info{};
    info.struct_size = sizeof info;
    if (status == MODPOP3D_OK) {
        info.event = MODPOP3D_EV_AUTH_OK;
        int32_t veto = run_hooks(MODPOP3D_EV_AUTH_OK, session, info);
        if (veto != MODPOP3D_OK)
            return veto == MODPOP3D_E_TEMP ? veto : MODPOP3D_E_PERM;
        return status;
    }
    info.event = MODPOP3D_EV_AUTH_FAIL;
    run_hooks(MODPOP3D_EV_AUTH_FAIL, session, info);
    return status;
}

AuthAnswer AuthChain::login(modpop3d_session &session, bool apop, const std::string &user,
                            const std::string &secret, const std::string &timestamp)
{
    AuthAnswer answer =
        apop ? verify_apop(session, user, timestamp, secret) : verify_plain(session, user, secret);
    answer.status = run_auth_hooks(session, answer.status);
    if (answer.status == MODPOP3D_OK)
        run_on_login(session, answer);
    return answer;
}

bool AuthChain::has_on_login() const
{
    return std::any_of(auth_.begin(), auth_.end(),
                       [](const modload::Instance *i) { return auth_ops(i).on_login != nullptr; });
}

// run_on_login - auth_ops.on_login of the instance that accepted the login
// (tpop3d's onlogin: auth-mysql-onlogin-query, auth-other's ONLOGIN). It
// runs here, on the auth thread pool right after the credentials and the
// AUTH_OK hooks passed, because this is the one place that knows which
// instance answered and may block; never on a worker's event loop. Its
// result is logged, not enforced (modapi auth.h).
void AuthChain::run_on_login(modpop3d_session &session, const AuthAnswer &answer)
{
    for (auto *inst : auth_) {
        const auto &ops = auth_ops(inst);
        if (ops.on_login == nullptr || inst->label() != answer.instance)
            continue;
        int32_t rc;
        if (thread_safe(inst)) {
            rc = ops.on_login(inst->inst, &session);
        } else {
            std::lock_guard lock(lock_for(inst));
            rc = ops.on_login(inst->inst, &session);
        }
        if (rc != MODPOP3D_OK)
            log::writef(log::Warning, inst->label(), "event=on_login_result status=%d", rc);
        return;
    }
}

bool AuthChain::login_cached(const std::string &user, const std::string &password, AuthAnswer &out)
{
    // An instance with on_login must see every login: answer on the pool.
    if (!cache_.enabled() || has_hooks(MODPOP3D_EV_AUTH_OK) || has_on_login() ||
        !cache_.find(user, password, out))
        return false;
    ++cache_hits_;
    log::writef(log::Debug, out.instance, "event=auth_cache_hit user=%s", user.c_str());
    return true;
}

void AuthChain::log_cache() const
{
    if (cache_.enabled())
        log::writef(log::Info, "", "event=auth_cache ttl_ms=%lld size=%lld",
                    static_cast<long long>(cache_.ttl_ms()),
                    static_cast<long long>(cache_.max_entries()));
}

bool AuthChain::has_hooks(uint32_t event) const
{
    for (auto *inst : hooks_) {
        const auto &ops = *static_cast<const modpop3d_hook_ops *>(inst->module->desc->ops);
        if ((ops.events & event) && ops.on_event != nullptr)
            return true;
    }
    return false;
}

int32_t AuthChain::run_hooks(uint32_t event, modpop3d_session &session,
                             const modpop3d_event_info &info)
{
    for (auto *inst : hooks_) {
        const auto &ops = *static_cast<const modpop3d_hook_ops *>(inst->module->desc->ops);
        if (!(ops.events & event) || ops.on_event == nullptr)
            continue;
        // A thread-safe hook (hook_whoson, hook_drac) runs unlocked: with a
        // server that never answers, logins arriving together must each
        // wait its own timeout, not the sum of the others'.
        int32_t rc;
        if (thread_safe(inst)) {
            rc = ops.on_event(inst->inst, &session, &info);
        } else {
            std::lock_guard lock(lock_for(inst));
            rc = ops.on_event(inst->inst, &session, &info);
        }
        if (rc == MODPOP3D_OK)
            continue;
        log::writef(log::Warning, inst->label(), "event=hook_result hook_event=%u status=%d", event,
                    rc);
        if ((event == MODPOP3D_EV_AUTH_OK || event == MODPOP3D_EV_LOGIN) &&
            (rc == MODPOP3D_E_PERM || rc == MODPOP3D_E_TEMP))
            return rc;
    }
    return MODPOP3D_OK;
}

std::string rewrite_login(const std::string &login, const config::CoreSettings &settings,
                          const std::string &listener_domain)
{
    if (login.empty() || login.size() > 255)
        return "";
    std::string user = login;
    for (char &c : user) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u == 0x7f)
            return "";
        if (settings.domain_separators.find(c) != std::string::npos)
            c = '@';
        if (settings.lowercase_user)
            c = static_cast<char>(std::tolower(u));
    }
    auto at = user.find('@');
    if (settings.strip_domain && at != std::string::npos)
        user.erase(at);
    else if (!listener_domain.empty() && at == std::string::npos)
        user += "@" + listener_domain;
    else if (!settings.append_domain.empty() && at == std::string::npos)
        user += "@" + settings.append_domain;
    return user;
}

std::string apop_digest(const std::string &timestamp, const std::string &secret)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_md5(), nullptr);
    EVP_DigestUpdate(ctx, timestamp.data(), timestamp.size());
    EVP_DigestUpdate(ctx, secret.data(), secret.size());
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

} // namespace modpop3d::daemon
