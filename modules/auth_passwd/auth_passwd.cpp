// auth_passwd.cpp - the auth_passwd module: system accounts from passwd(5) and
// shadow(5) (getpwnam_r, getspnam_r), passwords checked by the host's crypt(3)
// verifier. tpop3d's auth-passwd driver, with the min-uid rule, locked and
// expired accounts refused, and unknown users timed like wrong passwords.
#include "conf_util.hpp"
#include "sysuser.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <modpop3d/module.hpp>
#include <shadow.h>
#include <string>
#include <vector>

namespace
{

namespace su = modpop3d::sysuser;

constexpr const char *default_mailbox = "maildir:$(home)/Maildir bsd:/var/mail/$(user)";

const modpop3d_conf_item schema[] = {
    {"mailbox", MODPOP3D_CONF_TEMPLATE, 0, default_mailbox,
     "Ordered mailbox spec list for users of this instance.", nullptr, 0, 0},
    {"mail-group", MODPOP3D_CONF_STRING, 0, nullptr,
     "Group (name or number) the session runs with instead of the user's primary group.", nullptr,
     0, 0},
    {"min-uid", MODPOP3D_CONF_INT, 0, "1000",
     "Lowest uid allowed to log in; uid 0 is always refused.", nullptr, 1, 4294967294LL},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

struct Instance {
    const modpop3d_host *host = nullptr;
    modpop3d_ictx *ictx = nullptr;
    std::string mailbox;
    std::string mail_group; // empty: the user's primary group
    int64_t min_uid = 1000;
};

// Secret - a std::string that is wiped before its memory is released.
struct Secret {
    std::string s;
    ~Secret() { explicit_bzero(s.data(), s.size()); }
};

struct ShadowEntry {
    Secret hash;
    long expire = -1; // days since the epoch, -1: never
};

// shadow_lookup - getspnam_r with a growing buffer. EACCES when not root.
su::Found shadow_lookup(const char *name, ShadowEntry &out, int &err)
{
    std::vector<char> buf(4096);
    for (;;) {
        spwd sp{};
        spwd *res = nullptr;
        int rc = getspnam_r(name, &sp, buf.data(), buf.size(), &res);
        if (rc == ERANGE && buf.size() < (1u << 20)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (res == nullptr && (rc == 0 || rc == ENOENT || rc == ESRCH)) {
            explicit_bzero(buf.data(), buf.size());
            return su::Found::no;
        }
        if (res == nullptr) {
            err = rc != 0 ? rc : EIO;
            return su::Found::error;
        }
        out.hash.s = sp.sp_pwdp ? sp.sp_pwdp : "";
        out.expire = sp.sp_expire;
        explicit_bzero(buf.data(), buf.size());
        return su::Found::yes;
    }
}

// locked - no password login possible: empty field (never allow a null
// password), "!"-prefixed (passwd -l, usermod -L) or "*"-prefixed (no
// password set, e.g. daemon accounts), "x" without a shadow entry.
bool locked(const std::string &hash)
{
    return hash.empty() || hash[0] == '!' || hash[0] == '*' || hash == "x";
}

int32_t conf_check(const modpop3d_host *host, const modpop3d_conf *conf) noexcept
{
    return modpop3d::guard(host, nullptr, [&] {
        int32_t rc = MODPOP3D_OK;
        const std::string mailbox = modpop3d::confutil::str(host, conf, "mailbox");
        if (mailbox.find_first_not_of(" \t") == std::string::npos)
            rc = host->conf_error(conf, "mailbox", "the mailbox spec list is empty");
        const std::string group = modpop3d::confutil::str(host, conf, "mail-group");
        if (!group.empty()) {
            gid_t gid = 0;
            int err = 0;
            switch (su::group_spec(group, gid, err)) {
            case su::Found::yes:
                break;
            case su::Found::no:
                rc = host->conf_error(conf, "mail-group", "no such group '%s'",
                                      su::printable(group).c_str());
                break;
            case su::Found::error:
                // The group database may be remote and down right now; the
                // lookup is repeated at each login.
                host->log(nullptr, MODPOP3D_LOG_WARNING,
                          "event=conf_warning key=mail-group error=\"%s\"", strerror(err));
                break;
            }
        }
        return rc;
    });
}

int32_t instance_new(const modpop3d_host *host, const modpop3d_conf *conf, modpop3d_ictx *ictx,
                     void **ret_inst) noexcept
{
    return modpop3d::guard(host, ictx, [&] {
        auto inst = std::make_unique<Instance>();
        inst->host = host;
        inst->ictx = ictx;
        inst->mailbox = modpop3d::confutil::str(host, conf, "mailbox", default_mailbox);
        inst->mail_group = modpop3d::confutil::str(host, conf, "mail-group");
        inst->min_uid = modpop3d::confutil::integer(host, conf, "min-uid", 1000);
        *ret_inst = inst.release();
        return MODPOP3D_OK;
    });
}

void instance_free(void *p) noexcept
{
    delete static_cast<Instance *>(p);
}

// refuse - burn one verification's worth of time, log why, return `status`.
int32_t refuse(Instance &in, const char *pass, size_t pass_len, int32_t status, const char *reason,
               const char *user)
{
    (void)in.host->password_dummy_verify(pass, pass_len);
    in.host->log(in.ictx, MODPOP3D_LOG_INFO, "event=auth_refused reason=%s user=\"%s\"", reason,
                 su::printable(user).c_str());
    return status;
}

int32_t verify_plain(void *p, modpop3d_session *, const char *user, const char *pass,
                     size_t pass_len, modpop3d_auth_result *res) noexcept
{
    auto &in = *static_cast<Instance *>(p);
    return modpop3d::guard(in.host, in.ictx, [&]() -> int32_t {
        if (user == nullptr || !su::plausible_name(user))
            return refuse(in, pass, pass_len, MODPOP3D_E_NOUSER, "bad_name", user ? user : "");

        su::Account acct;
        int err = 0;
        switch (su::by_name(user, acct, err)) {
        case su::Found::yes:
            break;
        case su::Found::no:
            (void)in.host->password_dummy_verify(pass, pass_len);
            return MODPOP3D_E_NOUSER;
        case su::Found::error:
            in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                         "event=backend_error call=getpwnam error=\"%s\"", strerror(err));
            return MODPOP3D_E_TEMP;
        }
        if (!su::uid_allowed(acct.uid, in.min_uid))
            return refuse(in, pass, pass_len, MODPOP3D_E_PERM, "uid_below_min_uid", user);

        ShadowEntry sh;
        if (acct.passwd == "x") {
            switch (shadow_lookup(acct.name.c_str(), sh, err)) {
            case su::Found::yes:
                break;
            case su::Found::no:
                sh.hash.s = "!";
                break;
            case su::Found::error:
                in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                             "event=backend_error call=getspnam error=\"%s\"%s", strerror(err),
                             err == EACCES ? " hint=\"reading shadow needs root\"" : "");
                return MODPOP3D_E_TEMP;
            }
        } else {
            sh.hash.s = acct.passwd;
        }
        explicit_bzero(acct.passwd.data(), acct.passwd.size());

        if (locked(sh.hash.s))
            return refuse(in, pass, pass_len, MODPOP3D_E_BADPASS, "locked", user);

        const int32_t vr = in.host->password_verify(sh.hash.s.c_str(), pass, pass_len);
        if (vr == MODPOP3D_E_BADPASS)
            return MODPOP3D_E_BADPASS;
        if (vr != MODPOP3D_OK) {
            in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                         "event=backend_error reason=unverifiable_hash user=\"%s\"",
                         su::printable(user).c_str());
            return MODPOP3D_E_TEMP;
        }

        // Account expiry as pam_unix reads it: expired from that day on.
        const long today = static_cast<long>(time(nullptr) / 86400);
        if (sh.expire >= 0 && today >= sh.expire) {
            in.host->log(in.ictx, MODPOP3D_LOG_INFO,
                         "event=auth_refused reason=account_expired user=\"%s\"",
                         su::printable(user).c_str());
            return MODPOP3D_E_PERM;
        }

        gid_t gid = acct.gid;
        if (!in.mail_group.empty()) {
            switch (su::group_spec(in.mail_group, gid, err)) {
            case su::Found::yes:
                break;
            case su::Found::no:
                in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                             "event=config_error key=mail-group "
                             "reason=no_such_group");
                return MODPOP3D_E_TEMP;
            case su::Found::error:
                in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                             "event=backend_error call=getgrnam error=\"%s\"", strerror(err));
                return MODPOP3D_E_TEMP;
            }
        }
        return su::set_common(in.host, res, acct.name, acct.uid, gid, acct.home, in.mailbox);
    });
}

const modpop3d_auth_ops ops = {
    sizeof(modpop3d_auth_ops),
    MODPOP3D_AUTHC_PLAIN,
    verify_plain,
    nullptr, // lookup_credentials: only one-way hashes are stored
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_AUTH,
    // Root for shadow(5); NSS may be remote (blocking); all state is
    // read-only after instance_new and the lookups are reentrant.
    MODPOP3D_MODF_NEEDS_ROOT | MODPOP3D_MODF_BLOCKING | MODPOP3D_MODF_THREAD_SAFE,
    "auth_passwd",
    "0.1.0",
    "system users from passwd and shadow (crypt hashes)",
    schema,
    sizeof(modpop3d_conf_item),
    0,
    conf_check,
    instance_new,
    nullptr,
    instance_free,
    &ops,
};

} // namespace

MODPOP3D_MODULE_DEFINE(descriptor)
