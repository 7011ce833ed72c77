// auth_ldap.cpp - the auth_ldap module: users from an LDAP directory
// (OpenLDAP's libldap).
//
// A login searches (service pool, bound as bind-dn) for the one entry that
// the filter template matches, then either binds as that entry with the
// client's password on a connection of the user-bind pool (mode bind,
// tpop3d's way), or checks the entry's password attribute with the core's
// password schemes (mode compare; this also serves lookup_credentials, so
// APOP, CRAM-MD5 and SCRAM work with {PLAIN} or {SCRAM-SHA-256} values).
//
// Outcomes: no entry (or a login the templates cannot express, such as
// $(domain) for a name without one) is NOUSER; a wrong password BADPASS;
// more than one entry, an unusable attribute or an account policy refusal
// PERM (logged); a server that is down, slow or answering errors TEMP.
#include "conf_util.hpp"
#include "ldap_config.hpp"
#include "ldap_conn.hpp"
#include "ldap_entry.hpp"
#include "ldap_text.hpp"
#include "sysuser.hpp"

#include <ldap.h>
#include <memory>
#include <modpop3d/module.h>
#include <modpop3d/module.hpp>
#include <string>
#include <unistd.h>

namespace
{

namespace ml = modpop3d::ldap;
namespace su = modpop3d::sysuser;

class Instance
{
  public:
    Instance(const modpop3d_host *host, modpop3d_ictx *ictx, ml::Config cfg)
        : host_(host), ictx_(ictx), cfg_(std::move(cfg)), connector_(host, ictx, cfg_.conn),
          service_(connector_, cfg_.pool_size, cfg_.bind_dn, cfg_.bind_pw),
          binds_(connector_, cfg_.pool_size, "", ""),
          attrs_(ml::attributes(cfg_.attrs, cfg_.compare))
    {
        explicit_bzero(cfg_.bind_pw.data(), cfg_.bind_pw.size()); // the pool has its copy
    }

    const modpop3d_host *host() const { return host_; }
    const modpop3d_ictx *ictx() const { return ictx_; }

    bool uses_tls() const
    {
        if (cfg_.conn.starttls)
            return true;
        for (const std::string &u : cfg_.conn.uris)
            if (u.rfind("ldaps:", 0) == 0)
                return true;
        return false;
    }

    int32_t verify(modpop3d_session *s, const char *user, const char *pass, std::size_t len,
                   modpop3d_auth_result *res)
    {
        ml::Entry e;
        const int32_t st = find(s, user, e);
        if (st == MODPOP3D_E_NOUSER && cfg_.compare)
            host_->password_dummy_verify(pass, len); // unknown users cost what others do
        if (st != MODPOP3D_OK)
            return st;
        const int32_t pw = cfg_.compare ? compare(user, e, pass, len) : bind(user, e, pass, len);
        if (pw != MODPOP3D_OK)
            return pw;
        return set_result(user, e, res);
    }

    int32_t lookup(modpop3d_session *s, const char *user, const char *scheme,
                   modpop3d_auth_result *res)
    {
        const std::string want(scheme);
        if (!cfg_.compare || (want != "PLAIN" && want != "SCRAM-SHA-256"))
            return MODPOP3D_E_NOTSUP;
        ml::Entry e;
        const int32_t st = find(s, user, e);
        if (st != MODPOP3D_OK)
            return st;
        std::optional<std::string> cred;
        if (const auto *values = e.all(cfg_.attrs.password))
            for (const std::string &v : *values)
                if (!cred)
                    cred = ml::credential_for(ml::with_scheme(v, cfg_.default_scheme), want);
        if (!cred)
            return MODPOP3D_E_NOTSUP;
        int32_t r = set_result(user, e, res);
        if (r == MODPOP3D_OK)
            r = host_->result_set(res, "password", cred->c_str()) == MODPOP3D_OK
                    ? MODPOP3D_OK
                    : MODPOP3D_E_INTERNAL;
        explicit_bzero(cred->data(), cred->size());
        return r;
    }

  private:
    // find - the one entry for `user`, through the service pool. A pooled
    // connection found broken (the server restarted) is replaced once.
    int32_t find(modpop3d_session *s, const char *user, ml::Entry &out)
    {
        const ml::Vars vars = ml::vars_for(user, host_->session_get(s, "local_part"),
                                           host_->session_get(s, "domain"));
        std::string filter, base;
        if (ml::expand(cfg_.filter, vars, ml::Escape::filter, filter) != ml::Expanded::ok ||
            ml::expand(cfg_.base, vars, ml::Escape::dn, base) != ml::Expanded::ok) {
            host_->log(ictx_, MODPOP3D_LOG_DEBUG,
                       "event=ldap_no_query user=\"%s\" reason=\"the login has no domain\"",
                       su::printable(user).c_str());
            return MODPOP3D_E_NOUSER;
        }
        std::vector<ml::Entry> entries;
        for (int attempt = 0; attempt < 2; ++attempt) {
            ml::Conn c;
            std::string why;
            if (!service_.acquire(c, why))
                return unavailable("search", why);
            int code = 0;
            std::string diag;
            const ml::Op op = ml::search(c, base, cfg_.scope, filter, attrs_,
                                         cfg_.conn.op_timeout_ms, entries, code, diag);
            if (op == ml::Op::ok || op == ml::Op::no_such_object) {
                service_.release(c, true);
                break;
            }
            if (op == ml::Op::down && attempt == 0) {
                service_.release(c, false);
                service_.drop_idle();
                continue;
            }
            const std::string reason = std::string(ml::op_name(op)) + ": " + ldap_err2string(code) +
                                       (diag.empty() ? "" : " - ") + diag;
            if (op == ml::Op::timeout || op == ml::Op::down)
                connector_.failed(c, reason);
            service_.release(c, op == ml::Op::error);
            host_->log(ictx_, MODPOP3D_LOG_ERR,
                       "event=ldap_search_failed user=\"%s\" base=\"%s\" filter=\"%s\" "
                       "reason=\"%s\"",
                       su::printable(user).c_str(), su::printable(base, 256).c_str(),
                       su::printable(filter, 256).c_str(), su::printable(reason, 256).c_str());
            return MODPOP3D_E_TEMP;
        }
        if (entries.empty())
            return MODPOP3D_E_NOUSER;
        if (entries.size() > 1) {
            host_->log(ictx_, MODPOP3D_LOG_ERR,
                       "event=ldap_ambiguous_user user=\"%s\" filter=\"%s\" first=\"%s\" "
                       "second=\"%s\" reason=\"more than one entry matches: login refused\"",
                       su::printable(user).c_str(), su::printable(filter, 256).c_str(),
                       su::printable(entries[0].dn, 256).c_str(),
                       su::printable(entries[1].dn, 256).c_str());
            return MODPOP3D_E_PERM;
        }
        out = std::move(entries.front());
        return MODPOP3D_OK;
    }

    int32_t unavailable(const char *what, const std::string &why)
    {
        host_->log(ictx_, MODPOP3D_LOG_ERR, "event=ldap_unavailable op=%s reason=\"%s\"", what,
                   su::printable(why, 300).c_str());
        return MODPOP3D_E_TEMP;
    }

    // bind - the client's password checked by the server: a simple bind as
    // the entry, on a user-bind connection (never a search connection).
    int32_t bind(const char *user, const ml::Entry &e, const char *pass, std::size_t len)
    {
        // An empty password would make an unauthenticated bind, which
        // servers answer with success (RFC 4513 5.1.2).
        if (len == 0 || e.dn.empty())
            return MODPOP3D_E_BADPASS;
        for (int attempt = 0; attempt < 2; ++attempt) {
            ml::Conn c;
            std::string why;
            if (!binds_.acquire(c, why))
                return unavailable("bind", why);
            int code = 0;
            const ml::Op op = ml::simple_bind(c, e.dn, pass, len, cfg_.conn.op_timeout_ms, code);
            switch (op) {
            case ml::Op::ok:
                binds_.release(c, true);
                return MODPOP3D_OK;
            case ml::Op::invalid:
            case ml::Op::no_such_object:
                binds_.release(c, true);
                return MODPOP3D_E_BADPASS;
            case ml::Op::down:
                if (attempt == 0) {
                    binds_.release(c, false);
                    binds_.drop_idle();
                    continue;
                }
                [[fallthrough]];
            case ml::Op::timeout:
                connector_.failed(c, std::string("user bind: ") + ml::op_name(op));
                binds_.release(c, false);
                return unavailable("bind",
                                   std::string(ml::op_name(op)) + ": " + ldap_err2string(code));
            case ml::Op::error:
                binds_.release(c, false);
                if (code == LDAP_UNWILLING_TO_PERFORM || code == LDAP_CONSTRAINT_VIOLATION) {
                    // Account policy (locked, expired): a refusal, not an outage.
                    host_->log(ictx_, MODPOP3D_LOG_NOTICE,
                               "event=ldap_bind_refused user=\"%s\" dn=\"%s\" reason=\"%s\"",
                               su::printable(user).c_str(), su::printable(e.dn, 256).c_str(),
                               ldap_err2string(code));
                    return MODPOP3D_E_PERM;
                }
                return unavailable("bind", std::string("error: ") + ldap_err2string(code));
            }
        }
        return MODPOP3D_E_TEMP;
    }

    // compare - the client's password checked here against each stored
    // value of the password attribute.
    int32_t compare(const char *user, const ml::Entry &e, const char *pass, std::size_t len)
    {
        const auto *values = e.all(cfg_.attrs.password);
        if (values == nullptr) {
            host_->log(ictx_, MODPOP3D_LOG_WARNING,
                       "event=ldap_no_password user=\"%s\" dn=\"%s\" attribute=%s "
                       "reason=\"absent, or not readable by bind-dn\"",
                       su::printable(user).c_str(), su::printable(e.dn, 256).c_str(),
                       cfg_.attrs.password.c_str());
            host_->password_dummy_verify(pass, len);
            return MODPOP3D_E_BADPASS;
        }
        bool unsupported = false;
        for (const std::string &v : *values) {
            std::string stored = ml::with_scheme(v, cfg_.default_scheme);
            const int32_t r = host_->password_verify(stored.c_str(), pass, len);
            explicit_bzero(stored.data(), stored.size());
            if (r == MODPOP3D_OK)
                return MODPOP3D_OK;
            unsupported = unsupported || r == MODPOP3D_E_NOTSUP;
        }
        if (unsupported)
            host_->log(ictx_, MODPOP3D_LOG_WARNING,
                       "event=unsupported_secret user=\"%s\" dn=\"%s\" attribute=%s "
                       "reason=\"unknown scheme or malformed value\"",
                       su::printable(user).c_str(), su::printable(e.dn, 256).c_str(),
                       cfg_.attrs.password.c_str());
        return MODPOP3D_E_BADPASS;
    }

    int32_t refuse(const char *user, const ml::Entry &e, const std::string &why)
    {
        host_->log(ictx_, MODPOP3D_LOG_ERR,
                   "event=ldap_bad_entry user=\"%s\" dn=\"%s\" reason=\"%s\"",
                   su::printable(user).c_str(), su::printable(e.dn, 256).c_str(),
                   su::printable(why, 200).c_str());
        return MODPOP3D_E_PERM;
    }

    // set_result - uid, gid, home, mailbox and the LOGIN-DELAY/EXPIRE facts
    // from the entry, with the instance's settings for what it lacks.
    int32_t set_result(const char *user, const ml::Entry &e, modpop3d_auth_result *res)
    {
        ml::Mapped m;
        std::string why;
        if (!ml::map_entry(e, cfg_.attrs, m, why))
            return refuse(user, e, why);
        const std::optional<std::string> uid_spec = m.uid ? m.uid : cfg_.uid;
        if (!uid_spec)
            return refuse(user, e,
                          "no uid: the entry has no " + cfg_.attrs.uid + " and uid is not set");
        su::Account acct;
        uint32_t number = 0;
        bool named = false;
        int err = 0;
        if (su::parse_id(*uid_spec, number)) {
            acct.uid = static_cast<uid_t>(number);
        } else {
            switch (su::user_spec(*uid_spec, acct, err)) {
            case su::Found::yes:
                named = true;
                break;
            case su::Found::no:
                return refuse(user, e, "no such user '" + *uid_spec + "'");
            case su::Found::error:
                return MODPOP3D_E_TEMP;
            }
        }
        gid_t gid = 0;
        const std::optional<std::string> gid_spec = m.gid ? m.gid : cfg_.gid;
        if (gid_spec) {
            switch (su::group_spec(*gid_spec, gid, err)) {
            case su::Found::yes:
                break;
            case su::Found::no:
                return refuse(user, e, "no such group '" + *gid_spec + "'");
            case su::Found::error:
                return MODPOP3D_E_TEMP;
            }
        } else if (named) {
            gid = acct.gid;
        } else {
            return refuse(user, e,
                          "no gid: the entry has no " + cfg_.attrs.gid + " and gid is not set");
        }
        if (!su::uid_allowed(acct.uid, cfg_.min_uid) || gid == 0)
            return refuse(user, e,
                          "uid " + std::to_string(acct.uid) + " / gid " + std::to_string(gid) +
                              " is root or below min-uid");
        const std::string home = m.home ? *m.home : named ? acct.home : cfg_.home;
        const std::string mailbox = m.mailbox ? *m.mailbox : cfg_.mailbox;
        int32_t rc = su::set_common(host_, res, user, acct.uid, gid, home, mailbox);
        if (rc == MODPOP3D_OK && m.login_delay)
            rc = host_->result_set(res, "login_delay", m.login_delay->c_str());
        if (rc == MODPOP3D_OK && m.expire)
            rc = host_->result_set(res, "expire", m.expire->c_str());
        return rc == MODPOP3D_OK ? MODPOP3D_OK : MODPOP3D_E_INTERNAL;
    }

    const modpop3d_host *host_;
    modpop3d_ictx *ictx_;
    ml::Config cfg_;
    ml::Connector connector_;
    ml::Pool service_;
    ml::Pool binds_;
    const std::vector<std::string> attrs_;
};

int32_t ldap_conf_check(const modpop3d_host *host, const modpop3d_conf *conf) noexcept
{
    return modpop3d::guard(host, nullptr, [&] {
        ml::Config c;
        return ml::read_config(host, conf, c, false) ? MODPOP3D_OK : MODPOP3D_E_CONFIG;
    });
}

int32_t ldap_instance_new(const modpop3d_host *host, const modpop3d_conf *conf, modpop3d_ictx *ictx,
                          void **ret_inst) noexcept
{
    return modpop3d::guard(host, ictx, [&] {
        ml::Config c;
        if (!ml::read_config(host, conf, c, true))
            return MODPOP3D_E_CONFIG;
        *ret_inst = new Instance(host, ictx, std::move(c));
        return MODPOP3D_OK;
    });
}

int32_t ldap_process_init(void *inst) noexcept
{
    auto *i = static_cast<Instance *>(inst);
    return modpop3d::guard(i->host(), i->ictx(), [&] {
        // libldap reads its defaults (ldap.conf) once per process; do it now,
        // on one thread, before the auth threads race to the first
        // connection.
        int version = 0;
        ldap_get_option(nullptr, LDAP_OPT_PROTOCOL_VERSION, &version);
        // libldap sets the TLS library up on first use; do that here, on one
        // thread, rather than among the first connections of several auth
        // threads (defensive: we did not rely on libldap guarding it). The
        // process-wide context this builds is not used: each connection
        // makes its own. A failure (a bad ldap.conf) is left to them.
        if (i->uses_tls()) {
            const int zero = 0;
            (void)ldap_set_option(nullptr, LDAP_OPT_X_TLS_NEWCTX, &zero);
        }
        return MODPOP3D_OK;
    });
}

void ldap_instance_free(void *inst) noexcept
{
    auto *i = static_cast<Instance *>(inst);
    if (i != nullptr)
        modpop3d::guard_void(i->host(), i->ictx(), [&] { delete i; });
}

int32_t ldap_verify_plain(void *inst, modpop3d_session *session, const char *user, const char *pass,
                          size_t pass_len, modpop3d_auth_result *res) noexcept
{
    auto *i = static_cast<Instance *>(inst);
    return modpop3d::guard(i->host(), i->ictx(),
                           [&] { return i->verify(session, user, pass, pass_len, res); });
}

int32_t ldap_lookup_credentials(void *inst, modpop3d_session *session, const char *user,
                                const char *scheme, modpop3d_auth_result *res) noexcept
{
    auto *i = static_cast<Instance *>(inst);
    return modpop3d::guard(i->host(), i->ictx(),
                           [&] { return i->lookup(session, user, scheme, res); });
}

const modpop3d_auth_ops auth_ops = {
    sizeof(modpop3d_auth_ops),
    MODPOP3D_AUTHC_PLAIN | MODPOP3D_AUTHC_CREDENTIALS,
    ldap_verify_plain,
    ldap_lookup_credentials, // NOTSUP in bind mode
    nullptr,                 // sasl_mechanisms
    nullptr,                 // sasl_step
    nullptr,                 // sasl_free
    nullptr,                 // on_login
};

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_AUTH,
    MODPOP3D_MODF_THREAD_SAFE | MODPOP3D_MODF_BLOCKING,
    "auth_ldap",
    "0.1.0",
    "users from an LDAP directory (search, then bind as the user or compare the password)",
    ml::conf_schema,
    sizeof(modpop3d_conf_item),
    0,
    ldap_conf_check,
    ldap_instance_new,
    ldap_process_init,
    ldap_instance_free,
    &auth_ops,
};

} // namespace

// The C++ form of MODPOP3D_MODULE_DEFINE has no prior declaration, which
// -Wmissing-declarations (project warning, -Werror) rejects; declare it here.
extern "C" MODPOP3D_EXPORT const struct modpop3d_module *modpop3d_module_entry(void) noexcept;
MODPOP3D_MODULE_DEFINE(descriptor)
