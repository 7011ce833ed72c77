// sasl_exchange.cpp - host-owned SASL exchanges of the daemon; see
// sasl_exchange.hpp.
//
// DIAGNOSTICS:
//   event=sasl_failed mechanism= user= rip= reason=   (debug: why an exchange
//       failed; the client only sees "-ERR [AUTH] Authentication failed", and
//       the server's usual event=auth_failed line follows for fail2ban)
//   event=sasl_bad_secret mechanism= user= rip=       (a stored secret the
//       mechanism cannot read, e.g. a malformed SCRAM verifier)
#include "worker/sasl_exchange.hpp"

#include "password/password_digest.hpp"
#include "password/server_secret.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <ctime>
#include <openssl/crypto.h>
#include <unistd.h>

namespace modpop3d::daemon
{

namespace
{

// set_user_facts - as the server does for USER/PASS: "user", "local_part"
// and "domain", which per-domain auth instances expand in their templates.
void set_user_facts(modpop3d_session &session, const std::string &user)
{
    session.set("user", user);
    auto at = user.rfind('@');
    session.set("local_part", at == std::string::npos ? user : user.substr(0, at));
    if (at == std::string::npos)
        session.facts.erase("domain");
    else
        session.set("domain", user.substr(at + 1));
}

void wipe(std::string &s)
{
    OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

std::string client_ip(const modpop3d_session &s)
{
    const std::string *ip = s.get("client_ip");
    return ip ? *ip : "";
}

// settles_at_end - lookup outcomes the exchange carries on with (and reports
// after the client's proof, like a wrong password): found, unknown user,
// refused account. Anything else (TEMP, INTERNAL) is answered at once.
bool settles_at_end(int32_t status)
{
    return status == MODPOP3D_OK || status == MODPOP3D_E_NOUSER || status == MODPOP3D_E_PERM ||
           status == MODPOP3D_E_BADPASS;
}

// guarded - run a mechanism call; an exception (no memory, getrandom or
// OpenSSL failing) becomes nullopt, answered as a temporary failure.
template <class F> std::optional<sasl::StepResult> guarded(F &&f) noexcept
{
    try {
        return f();
    } catch (const std::exception &e) {
        log::writef(log::Err, "", "event=sasl_error why=%s", log::quote(e.what()).c_str());
    } catch (...) {
        log::write(log::Err, "", "event=sasl_error why=\"unknown exception\"");
    }
    return std::nullopt;
}

} // namespace

sasl::ChannelBinding channel_binding_of(const tls::Stream *tls)
{
    if (tls == nullptr)
        return {};
    tls::ChannelBinding cb = tls->channel_binding();
    return sasl::ChannelBinding{std::move(cb.type), std::move(cb.data)};
}

struct SaslExchanges::Exchange {
    std::unique_ptr<sasl::Mechanism> mech;
    std::string name;
    std::weak_ptr<modpop3d_session> session;    // gone with its connection
    std::string login;                          // rewritten
    int32_t lookup_status = MODPOP3D_E_BADPASS; // reported when the exchange fails
    AuthAnswer answer;                          // the module's results, on success
    bool awaiting_ack = false;                  // final data sent, waiting for ""
};

SaslExchanges::SaslExchanges(AuthService &auth, const config::CoreSettings &settings)
    : chain_(&auth), settings_(settings)
{
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        std::snprintf(host, sizeof host, "localhost");
    hostname_ = host;
    // Made-up SCRAM salts (see sasl::Options) come from the installation's
    // key: the same in every worker and, with secret-key-file, after restarts.
    mock_key_ = password::server_secret_derive("scram-mock-salt");
}

SaslExchanges::~SaslExchanges()
{
    OPENSSL_cleanse(mock_key_.data(), mock_key_.size());
}

std::vector<std::string> SaslExchanges::mechanisms(bool tls_active) const
{
    // Only what the administrator enabled (sasl-mechanisms): a client that
    // prefers CRAM-MD5 or SCRAM does not fall back when the user's stored
    // secret is a one-way hash, so those are opt-in.
    auto enabled = [&](std::string_view name) {
        return std::find(settings_.sasl_mechanisms.begin(), settings_.sasl_mechanisms.end(),
                         name) != settings_.sasl_mechanisms.end();
    };
    std::vector<std::string> m;
    if (chain_->can_serve_credentials()) {
        if (tls_active && enabled(sasl::scram_sha256_plus))
            m.emplace_back(sasl::scram_sha256_plus);
        if (enabled(sasl::scram_sha256))
            m.emplace_back(sasl::scram_sha256);
        if (enabled(sasl::cram_md5))
            m.emplace_back(sasl::cram_md5);
    }
    if (enabled("PLAIN"))
        m.emplace_back("PLAIN");
    if (enabled("LOGIN"))
        m.emplace_back("LOGIN");
    return m;
}

const char *SaslExchanges::method_name(const std::string &mechanism)
{
    if (mechanism == sasl::cram_md5)
        return "CRAM-MD5";
    if (mechanism == sasl::scram_sha256)
        return "SCRAM-SHA-256";
    if (mechanism == sasl::scram_sha256_plus)
        return "SCRAM-SHA-256-PLUS";
    return "SASL";
}

void SaslExchanges::prune()
{
    // Connections can end without a SaslAbort reaching us (a stalled one is
    // destroyed at once): drop exchanges whose session is gone.
    for (auto it = active_.begin(); it != active_.end();)
        it = it->second->session.expired() ? active_.erase(it) : std::next(it);
}

bool SaslExchanges::current(uint64_t id, const std::shared_ptr<Exchange> &ex) const
{
    auto it = active_.find(id);
    return it != active_.end() && it->second == ex;
}

void SaslExchanges::abort(uint64_t id)
{
    active_.erase(id);
}

void SaslExchanges::step(ThreadPool &pool, uint64_t id,
                         const std::shared_ptr<modpop3d_session> &session, pop3::SaslStep step,
                         const sasl::ChannelBinding &binding, const Deliver &deliver)
{
    prune();
    std::shared_ptr<Exchange> ex;
    if (step.first) {
        ex = std::make_shared<Exchange>();
        ex->name = step.mechanism;
        ex->session = session;
        sasl::Options opt;
        opt.hostname = hostname_;
        opt.time = static_cast<uint64_t>(std::time(nullptr));
        opt.mock_key = mock_key_;
        opt.binding = binding;
        opt.plus_advertised = binding.available() && chain_->can_serve_credentials();
        ex->mech = sasl::make_mechanism(step.mechanism, std::move(opt));
        active_[id] = ex;
        if (!ex->mech) // the engine only passes what mechanisms() listed
            return finish(pool, id, ex, MODPOP3D_E_BADPASS, deliver);
        std::optional<std::string> initial;
        if (step.has_response)
            initial = std::move(step.response);
        std::optional<sasl::StepResult> r = guarded([&] { return ex->mech->start(initial); });
        if (initial)
            wipe(*initial);
        if (!r)
            return finish(pool, id, ex, MODPOP3D_E_TEMP, deliver);
        return handle(pool, id, ex, std::move(*r), deliver);
    }
    auto it = active_.find(id);
    if (it == active_.end()) { // no exchange (a host bug): fail safely
        ex = std::make_shared<Exchange>();
        ex->session = session;
        active_[id] = ex;
        return finish(pool, id, ex, MODPOP3D_E_BADPASS, deliver);
    }
    ex = it->second;
    if (ex->awaiting_ack) {
        // The answer to the final server data must be empty (RFC 4422 3.6).
        ex->awaiting_ack = false;
        const bool ok = step.response.empty();
        wipe(step.response);
        return finish(pool, id, ex, ok ? MODPOP3D_OK : MODPOP3D_E_BADPASS, deliver);
    }
    std::optional<sasl::StepResult> r = guarded([&] { return ex->mech->step(step.response); });
    wipe(step.response);
    if (!r)
        return finish(pool, id, ex, MODPOP3D_E_TEMP, deliver);
    handle(pool, id, ex, std::move(*r), deliver);
}

void SaslExchanges::handle(ThreadPool &pool, uint64_t id, const std::shared_ptr<Exchange> &ex,
                           sasl::StepResult r, const Deliver &deliver)
{
    using Kind = sasl::StepResult::Kind;
    switch (r.kind) {
    case Kind::challenge: {
        Event ev;
        ev.kind = Event::Kind::challenge;
        ev.challenge = std::move(r.data);
        ev.login = ex->login;
        deliver(id, std::move(ev));
        return;
    }
    case Kind::success:
        if (r.data.empty())
            return finish(pool, id, ex, MODPOP3D_OK, deliver);
        ex->awaiting_ack = true;
        return handle(pool, id, ex, sasl::StepResult::challenge(std::move(r.data)), deliver);
    case Kind::failure: {
        auto s = ex->session.lock();
        log::writef(log::Debug, "", "event=sasl_failed mechanism=%s user=%s rip=%s reason=%s",
                    ex->name.c_str(), log::quote(ex->login).c_str(), s ? client_ip(*s).c_str() : "",
                    log::quote(r.data).c_str());
        return finish(pool, id, ex, ex->lookup_status, deliver);
    }
    case Kind::need_credentials:
        break;
    }

    // Look the user up on the pool: the backend may block.
    auto session = ex->session.lock();
    if (!session)
        return abort(id);
    const std::string login = r.data;
    const std::string *listener_domain = session->get("listener_domain");
    ex->login = rewrite_login(login, settings_, listener_domain ? *listener_domain : "");
    if (ex->login.empty()) {
        // A name the server refuses outright: an unknown user, answered at
        // the end of the exchange like any other.
        ex->login = login.substr(0, 64);
        ex->lookup_status = MODPOP3D_E_NOUSER;
        std::optional<sasl::StepResult> next = guarded([&] { return ex->mech->credentials({}); });
        if (!next)
            return finish(pool, id, ex, MODPOP3D_E_TEMP, deliver);
        return handle(pool, id, ex, std::move(*next), deliver);
    }
    set_user_facts(*session, ex->login);
    session->set("method", method_name(ex->name));
    struct Job {
        AuthAnswer answer;
        std::optional<sasl::StepResult> result; // nullopt: not run, or it threw
    };
    auto job = std::make_shared<Job>();
    const std::vector<std::string> schemes = sasl::credential_schemes(ex->name);
    pool.submit(
        [this, ex, session, job, schemes] {
            try {
                job->answer = chain_->lookup_credentials(*session, ex->login, schemes);
            } catch (...) { // no memory: try again later
                job->answer.status = MODPOP3D_E_TEMP;
                return;
            }
            sasl::Credentials creds;
            if (job->answer.status == MODPOP3D_OK) {
                creds.found = true;
                auto pw = job->answer.result.find("password");
                if (pw != job->answer.result.end()) {
                    creds.secret = std::move(pw->second);
                    wipe(pw->second);
                    job->answer.result.erase(pw);
                }
            }
            if (!settles_at_end(job->answer.status)) {
                wipe(creds.secret);
                return; // answered at once, below
            }
            // Computing a verifier from a {PLAIN} secret runs PBKDF2: here,
            // not on the event loop.
            job->result = guarded([&] { return ex->mech->credentials(creds); });
            wipe(creds.secret);
        },
        [this, &pool, id, ex, job, deliver] {
            if (!current(id, ex))
                return;                              // aborted, or the connection is gone
            if (!settles_at_end(job->answer.status)) // TEMP, INTERNAL, ...
                return finish(pool, id, ex, job->answer.status, deliver);
            if (!job->result)
                return finish(pool, id, ex, MODPOP3D_E_TEMP, deliver);
            if (job->answer.status == MODPOP3D_OK) {
                ex->answer = std::move(job->answer);
            } else {
                // NOUSER, PERM, BADPASS: the exchange goes on with a
                // made-up salt and fails at the end, like a wrong password.
                ex->lookup_status =
                    job->answer.status == MODPOP3D_E_NOUSER || job->answer.status == MODPOP3D_E_PERM
                        ? job->answer.status
                        : MODPOP3D_E_BADPASS;
            }
            if (job->result->kind == sasl::StepResult::Kind::failure &&
                ex->answer.status == MODPOP3D_OK &&
                job->result->data.find("verifier") != std::string::npos) {
                auto s = ex->session.lock();
                log::writef(log::Err, ex->answer.instance,
                            "event=sasl_bad_secret mechanism=%s user=%s rip=%s", ex->name.c_str(),
                            log::quote(ex->login).c_str(), s ? client_ip(*s).c_str() : "");
            }
            handle(pool, id, ex, std::move(*job->result), deliver);
        });
}

void SaslExchanges::finish(ThreadPool &pool, uint64_t id, const std::shared_ptr<Exchange> &ex,
                           int32_t status, const Deliver &deliver)
{
    active_.erase(id);
    ex->mech.reset();
    auto session = ex->session.lock();
    if (!session)
        return;
    auto answer = std::make_shared<AuthAnswer>();
    if (status == MODPOP3D_OK) {
        *answer = std::move(ex->answer);
        answer->status = MODPOP3D_OK;
        // The engine knows no login name for host-owned mechanisms: the
        // maildrop is the canonical user's, else the (rewritten) login's.
        if (answer->result["user"].empty())
            answer->result["user"] = ex->login;
    } else {
        answer->status = status;
    }
    // The auth-time hooks, as for USER/PASS, on the pool (they may block).
    pool.submit(
        [this, session, answer] {
            answer->status = chain_->finish_sasl_login(*session, answer->status, answer->instance);
        },
        [id, answer, login = ex->login, deliver] {
            Event ev;
            ev.kind = Event::Kind::done;
            ev.login = login;
            ev.answer = std::move(*answer);
            deliver(id, std::move(ev));
        });
}

} // namespace modpop3d::daemon
