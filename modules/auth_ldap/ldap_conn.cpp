// ldap_conn.cpp - libldap connections, timeouts, failover and pools (see
// ldap_conn.hpp).
#include "ldap_conn.hpp"

#include <chrono>
#include <cstring>
#include <ldap.h>
#include <modpop3d/host.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

namespace modpop3d::ldap
{

namespace
{

// The first back-off after a failure; it doubles per further failure up to
// max_backoff_ms.
constexpr uint64_t first_backoff_ms = 500;

uint64_t now_us()
{
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

timeval to_tv(int64_t ms)
{
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
    return tv;
}

Op classify(int rc)
{
    switch (rc) {
    case LDAP_SUCCESS:
        return Op::ok;
    case LDAP_TIMEOUT:
    case LDAP_TIMELIMIT_EXCEEDED:
        return Op::timeout;
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
    case LDAP_UNAVAILABLE:
    case LDAP_BUSY:
        return Op::down;
    case LDAP_INVALID_CREDENTIALS:
    case LDAP_INAPPROPRIATE_AUTH: // the entry has no password to bind with
        return Op::invalid;
    case LDAP_NO_SUCH_OBJECT:
        return Op::no_such_object;
    default:
        return Op::error;
    }
}

int handle_code(::ldap *ld)
{
    int code = LDAP_OTHER;
    ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &code);
    return code;
}

// wait_result - the whole answer to `msgid`, or the reason there is none.
// On a timeout the request is abandoned (the caller drops the connection).
Op wait_result(Conn &c, int msgid, int64_t timeout_ms, LDAPMessage **res, int &code)
{
    timeval tv = to_tv(timeout_ms);
    const int rc = ldap_result(c.ld, msgid, LDAP_MSG_ALL, &tv, res);
    if (rc == 0) {
        ldap_abandon_ext(c.ld, msgid, nullptr, nullptr);
        code = LDAP_TIMEOUT;
        return Op::timeout;
    }
    if (rc < 0) {
        code = handle_code(c.ld);
        const Op op = classify(code);
        return op == Op::ok || op == Op::invalid || op == Op::no_such_object ? Op::down : op;
    }
    return Op::ok;
}

} // namespace

const char *op_name(Op op)
{
    switch (op) {
    case Op::ok:
        return "ok";
    case Op::no_such_object:
        return "no_such_object";
    case Op::invalid:
        return "invalid_credentials";
    case Op::timeout:
        return "timeout";
    case Op::down:
        return "server_down";
    case Op::error:
        return "error";
    }
    return "error";
}

Connector::Connector(const modpop3d_host *host, const modpop3d_ictx *ictx, ConnSettings s)
    : host_(host), ictx_(ictx), s_(std::move(s)), state_(s_.uris.size())
{
}

void Connector::close(Conn &c)
{
    // A handle inherited over fork belongs to the parent: unbinding it here
    // would send the parent's unbind on its socket.
    if (c.ld != nullptr && c.pid == getpid())
        ldap_unbind_ext_s(c.ld, nullptr, nullptr);
    c.ld = nullptr;
}

bool Connector::connect_one(std::size_t i, Conn &c, std::string &why)
{
    const std::string &uri = s_.uris[i];
    ::ldap *ld = nullptr;
    int rc = ldap_initialize(&ld, uri.c_str());
    if (rc != LDAP_SUCCESS || ld == nullptr) {
        why = std::string("bad URI: ") + ldap_err2string(rc);
        return false;
    }
    c.ld = ld;
    c.server = i;
    c.pid = getpid();
    const int version = LDAP_VERSION3;
    timeval net = to_tv(s_.network_timeout_ms);
    timeval op = to_tv(s_.op_timeout_ms);
    bool ok = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld, LDAP_OPT_REFERRALS, s_.referrals ? LDAP_OPT_ON : LDAP_OPT_OFF) ==
                  LDAP_OPT_SUCCESS &&
              ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op) == LDAP_OPT_SUCCESS;
    const bool tls = s_.starttls || strncasecmp(uri.c_str(), "ldaps:", 6) == 0;
    if (ok && tls) {
        // Per-connection TLS settings, then a fresh TLS context built from
        // them: the process-wide defaults (ldap.conf) are not used.
        const int demand = LDAP_OPT_X_TLS_DEMAND;
        const int zero = 0;
        ok = ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) == LDAP_OPT_SUCCESS;
        if (ok && !s_.ca_file.empty())
            ok = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, s_.ca_file.c_str()) ==
                 LDAP_OPT_SUCCESS;
        if (ok && !s_.ca_dir.empty())
            ok = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTDIR, s_.ca_dir.c_str()) ==
                 LDAP_OPT_SUCCESS;
        if (ok)
            ok = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) == LDAP_OPT_SUCCESS;
    }
    if (!ok) {
        why = "setting connection options failed";
        close(c);
        return false;
    }
    if (s_.starttls && strncasecmp(uri.c_str(), "ldap:", 5) == 0) {
        rc = ldap_start_tls_s(ld, nullptr, nullptr);
        if (rc != LDAP_SUCCESS) {
            char *diag = nullptr;
            ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
            why = std::string("StartTLS failed: ") + ldap_err2string(rc);
            if (diag != nullptr && *diag != '\0')
                why += std::string(" (") + diag + ")";
            ldap_memfree(diag);
            close(c);
            return false;
        }
    } else {
        // Connect now (ldaps: with its handshake), so that a dead server is
        // found here and the next one tried, not in the middle of a bind.
        rc = ldap_connect(ld);
        if (rc != LDAP_SUCCESS) {
            why = std::string("connect failed: ") + ldap_err2string(rc);
            close(c);
            return false;
        }
    }
    return true;
}

void Connector::mark_failed(std::size_t i, const std::string &why)
{
    std::lock_guard lock(mu_);
    ServerState &st = state_[i];
    ++st.failures;
    uint64_t backoff = first_backoff_ms << std::min(st.failures - 1, 16u);
    backoff = std::min<uint64_t>(backoff, static_cast<uint64_t>(s_.max_backoff_ms));
    st.retry_at_us = now_us() + backoff * 1000;
    // Logged on the first failure, then every tenth: an outage is one line,
    // not one per login.
    if (st.failures == 1 || st.failures % 10 == 0)
        host_->log(ictx_, MODPOP3D_LOG_WARNING,
                   "event=ldap_server_failed uri=\"%s\" failures=%u retry_in_ms=%llu "
                   "reason=\"%s\"",
                   s_.uris[i].c_str(), st.failures, static_cast<unsigned long long>(backoff),
                   why.c_str());
}

void Connector::mark_ok(std::size_t i)
{
    std::lock_guard lock(mu_);
    ServerState &st = state_[i];
    if (st.failures > 0)
        host_->log(ictx_, MODPOP3D_LOG_NOTICE, "event=ldap_server_recovered uri=\"%s\"",
                   s_.uris[i].c_str());
    st = ServerState{};
}

void Connector::failed(const Conn &c, const std::string &why)
{
    mark_failed(c.server, why);
}

bool Connector::open(Conn &c, std::string &why)
{
    std::string last;
    bool tried = false;
    for (std::size_t i = 0; i < s_.uris.size(); ++i) {
        {
            std::lock_guard lock(mu_);
            if (state_[i].retry_at_us > now_us())
                continue;
        }
        tried = true;
        std::string reason;
        if (connect_one(i, c, reason)) {
            mark_ok(i);
            return true;
        }
        mark_failed(i, reason);
        last = s_.uris[i] + ": " + reason;
    }
    why = tried ? "no LDAP server answered (last: " + last + ")"
                : std::string("every LDAP server failed recently and is backing off");
    return false;
}

Op simple_bind(Conn &c, const std::string &dn, const char *pw, std::size_t pw_len,
               int64_t timeout_ms, int &code)
{
    berval cred{static_cast<ber_len_t>(pw_len), const_cast<char *>(pw)};
    int msgid = -1;
    code = ldap_sasl_bind(c.ld, dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, &msgid);
    if (code != LDAP_SUCCESS) {
        const Op op = classify(code);
        return op == Op::ok ? Op::error : op;
    }
    LDAPMessage *res = nullptr;
    const Op w = wait_result(c, msgid, timeout_ms, &res, code);
    if (w != Op::ok)
        return w;
    int err = LDAP_OTHER;
    const int rc = ldap_parse_result(c.ld, res, &err, nullptr, nullptr, nullptr, nullptr, 1);
    code = rc == LDAP_SUCCESS ? err : rc;
    if (code == LDAP_SUCCESS)
        return Op::ok;
    const Op op = classify(code);
    return op == Op::no_such_object ? Op::invalid : op;
}

Op search(Conn &c, const std::string &base, int scope, const std::string &filter,
          const std::vector<std::string> &attrs, int64_t timeout_ms, std::vector<Entry> &out,
          int &code, std::string &diag)
{
    out.clear();
    std::vector<char *> names;
    static char no_attrs[] = LDAP_NO_ATTRS; // "1.1": the DN only
    for (const std::string &a : attrs)
        names.push_back(const_cast<char *>(a.c_str()));
    if (names.empty())
        names.push_back(no_attrs);
    names.push_back(nullptr);
    // The server's own time limit, in whole seconds (at least 1).
    timeval limit = to_tv(std::max<int64_t>(1000, timeout_ms / 1000 * 1000));
    int msgid = -1;
    code = ldap_search_ext(c.ld, base.c_str(), scope, filter.c_str(), names.data(), 0, nullptr,
                           nullptr, &limit, 2, &msgid);
    if (code != LDAP_SUCCESS) {
        const Op op = classify(code);
        return op == Op::ok ? Op::error : op;
    }
    LDAPMessage *res = nullptr;
    const Op w = wait_result(c, msgid, timeout_ms, &res, code);
    if (w != Op::ok)
        return w;
    for (LDAPMessage *e = ldap_first_entry(c.ld, res); e != nullptr; e = ldap_next_entry(c.ld, e)) {
        Entry entry;
        if (char *dn = ldap_get_dn(c.ld, e)) {
            entry.dn = dn;
            ldap_memfree(dn);
        }
        BerElement *ber = nullptr;
        for (char *a = ldap_first_attribute(c.ld, e, &ber); a != nullptr;
             a = ldap_next_attribute(c.ld, e, ber)) {
            if (berval **vals = ldap_get_values_len(c.ld, e, a)) {
                for (berval **v = vals; *v != nullptr; ++v)
                    entry.add(a, std::string((*v)->bv_val, (*v)->bv_len));
                ldap_value_free_len(vals);
            }
            ldap_memfree(a);
        }
        if (ber != nullptr)
            ber_free(ber, 0);
        out.push_back(std::move(entry));
    }
    int err = LDAP_OTHER;
    char *msg = nullptr;
    const int rc = ldap_parse_result(c.ld, res, &err, nullptr, &msg, nullptr, nullptr, 1);
    if (msg != nullptr) {
        diag = msg;
        ldap_memfree(msg);
    }
    code = rc == LDAP_SUCCESS ? err : rc;
    if (code == LDAP_SUCCESS || code == LDAP_SIZELIMIT_EXCEEDED)
        return Op::ok; // sizeLimitExceeded: more than the two asked for exist
    return classify(code);
}

Pool::Pool(Connector &conn, std::size_t max, std::string bind_dn, std::string bind_pw)
    : conn_(conn), max_(max), bind_dn_(std::move(bind_dn)), bind_pw_(std::move(bind_pw))
{
}

Pool::~Pool()
{
    for (Conn &c : idle_)
        Connector::close(c);
    explicit_bzero(bind_pw_.data(), bind_pw_.size());
}

bool Pool::open_bound(Conn &c, std::string &why)
{
    if (!conn_.open(c, why))
        return false;
    if (bind_dn_.empty())
        return true; // anonymous searches
    int code = 0;
    const Op op =
        simple_bind(c, bind_dn_, bind_pw_.data(), bind_pw_.size(), conn_.op_timeout_ms(), code);
    if (op == Op::ok)
        return true;
    why = std::string("service bind as \"") + bind_dn_ + "\" failed: " + op_name(op) + " (" +
          ldap_err2string(code) + ")";
    if (op == Op::timeout || op == Op::down)
        conn_.failed(c, why);
    Connector::close(c);
    return false;
}

bool Pool::acquire(Conn &c, std::string &why)
{
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(conn_.op_timeout_ms());
    std::unique_lock lock(mu_);
    while (true) {
        if (!idle_.empty()) {
            c = idle_.back();
            idle_.pop_back();
            return true;
        }
        if (total_ < max_) {
            ++total_;
            lock.unlock();
            const bool ok = open_bound(c, why);
            lock.lock();
            if (!ok) {
                --total_;
                cv_.notify_one();
            }
            return ok;
        }
        if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
            total_ >= max_) {
            why = "every pooled LDAP connection stayed busy for the whole timeout";
            return false;
        }
    }
}

void Pool::release(Conn &c, bool healthy)
{
    if (!healthy)
        Connector::close(c);
    std::lock_guard lock(mu_);
    if (healthy)
        idle_.push_back(c);
    else
        --total_;
    c = Conn{};
    cv_.notify_one();
}

void Pool::drop_idle()
{
    std::vector<Conn> old;
    {
        std::lock_guard lock(mu_);
        old.swap(idle_);
        total_ -= old.size();
        cv_.notify_all();
    }
    for (Conn &c : old)
        Connector::close(c);
}

} // namespace modpop3d::ldap
