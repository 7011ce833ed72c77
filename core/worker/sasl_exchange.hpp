// sasl_exchange.hpp - the daemon's side of host-owned SASL mechanisms
// (CRAM-MD5, SCRAM-SHA-256, SCRAM-SHA-256-PLUS; core/sasl): one exchange
// per connection, credential lookups through the auth chain on the thread
// pool (never on the event loop), and the channel binding taken from the
// connection's TLS stream.
//
// The server hands every pop3::SaslStep and SaslAbort of a connection to
// SaslExchanges and gets Events back on the loop thread: a challenge to pass
// to Engine::sasl_challenge(), or the end of the exchange with an
// AuthAnswer for the same path as USER/PASS (failure delay, counting, the
// fail2ban line, AUTH_OK/AUTH_FAIL hooks, opening the maildrop).
//
// Final server data (SCRAM's "v=...") is sent as one more challenge, as
// POP3 has no room for it on "+OK" (RFC 5034, RFC 4422 section 3.6): the
// login completes when the client answers it with an empty response.
#pragma once

#include "auth/auth_chain.hpp"
#include "config/core_config.hpp"
#include "pop3/actions.hpp"
#include "sasl/mechanism.hpp"
#include "tls/stream.hpp"
#include "util/thread_pool.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace modpop3d::daemon
{

// channel_binding_of - the channel binding SCRAM-SHA-256-PLUS checks: the
// connection's TLS stream after its handshake (tls-exporter on TLS 1.3,
// tls-unique on TLS 1.2, see tls::Stream::channel_binding), or nullptr
// without TLS (then empty, and -PLUS fails).
sasl::ChannelBinding channel_binding_of(const tls::Stream *tls);

class SaslExchanges
{
  public:
    SaslExchanges(AuthService &auth, const config::CoreSettings &settings);
    // use - where lookups and hooks go from now on (the auth process, once
    // a worker has its channel).
    void use(AuthService &auth) { chain_ = &auth; }
    ~SaslExchanges();
    SaslExchanges(const SaslExchanges &) = delete;
    SaslExchanges &operator=(const SaslExchanges &) = delete;

    // mechanisms - every SASL mechanism for a connection's CAPA and bare
    // AUTH, in preference order: SCRAM-SHA-256-PLUS (only on TLS, whose
    // channel binding exists before any command is read), SCRAM-SHA-256 and
    // CRAM-MD5 (only when some auth instance can supply credentials), then
    // PLAIN and LOGIN (the engine's own; it hides them itself where
    // plaintext is not allowed).
    std::vector<std::string> mechanisms(bool tls_active) const;

    struct Event {
        enum class Kind : uint8_t { challenge, done };
        Kind kind = Kind::done;
        std::string challenge; // challenge: the raw bytes to send
        std::string login;     // the rewritten login name, once known (logs)
        AuthAnswer answer;     // done: the status and the module's results
    };
    // Called on the loop thread, once per step, possibly before step()
    // returns; `id` may name a connection that is gone by then.
    using Deliver = std::function<void(uint64_t id, Event event)>;

    // step - one SaslStep of connection `id`.
    void step(ThreadPool &pool, uint64_t id, const std::shared_ptr<modpop3d_session> &session,
              pop3::SaslStep step, const sasl::ChannelBinding &binding, const Deliver &deliver);
    // abort - SaslAbort: forget the exchange (a pool job under way is
    // ignored when it finishes).
    void abort(uint64_t id);
    // active - exchanges held (tests, diagnostics).
    std::size_t active() const { return active_.size(); }

    // method_name - the mechanism's name for the login log line ("SASL" for
    // one this code does not know).
    static const char *method_name(const std::string &mechanism);

  private:
    struct Exchange;
    void handle(ThreadPool &pool, uint64_t id, const std::shared_ptr<Exchange> &ex,
                sasl::StepResult r, const Deliver &deliver);
    void finish(ThreadPool &pool, uint64_t id, const std::shared_ptr<Exchange> &ex, int32_t status,
                const Deliver &deliver);
    bool current(uint64_t id, const std::shared_ptr<Exchange> &ex) const;
    void prune();

    AuthService *chain_;
    const config::CoreSettings &settings_;
    std::string hostname_;
    std::string mock_key_;
    std::map<uint64_t, std::shared_ptr<Exchange>> active_;
};

} // namespace modpop3d::daemon
