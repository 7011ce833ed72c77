// auth_pam.cpp - the auth_pam module: Linux-PAM authentication
// (pam_authenticate + pam_acct_mgmt) for system users, with PAM_RHOST and
// PAM_RUSER set, a conversation that only ever answers password prompts, and
// uid/gid/home from passwd afterwards. tpop3d's auth-pam driver, with the
// min-uid rule and PAM results mapped onto the modapi outcomes.
#include "conf_util.hpp"
#include "sysuser.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <modpop3d/module.hpp>
#include <security/pam_appl.h>
#include <string>

namespace
{

namespace su = modpop3d::sysuser;

constexpr const char *default_mailbox = "maildir:$(home)/Maildir bsd:/var/mail/$(user)";

const modpop3d_conf_item schema[] = {
    {"service", MODPOP3D_CONF_STRING, 0, "modpop3d",
     "PAM service name: the stack in /etc/pam.d/ that is run.", nullptr, 0, 0},
    {"mailbox", MODPOP3D_CONF_TEMPLATE, 0, default_mailbox,
     "Ordered mailbox spec list for users of this instance.", nullptr, 0, 0},
    {"mail-group", MODPOP3D_CONF_STRING, 0, nullptr,
     "Group (name or number) the session runs with instead of the user's primary group.", nullptr,
     0, 0},
    {"min-uid", MODPOP3D_CONF_INT, 0, "1000",
     "Lowest uid allowed to log in; uid 0 is always refused.", nullptr, 1, 4294967294LL},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

// Bounds on what a PAM stack may make us do in one conversation.
constexpr int max_conv_messages = 16;   // messages in one conv() call
constexpr int max_password_prompts = 4; // echo-off prompts in one login
constexpr std::size_t max_logged_msg = 200;

struct Instance {
    const modpop3d_host *host = nullptr;
    modpop3d_ictx *ictx = nullptr;
    std::string service;
    std::string mailbox;
    std::string mail_group;
    int64_t min_uid = 1000;
};

// What the conversation function sees: the password (NUL-terminated copy,
// never logged) and a logger for informational messages.
struct ConvData {
    Instance *inst = nullptr;
    const char *password = nullptr;
    int prompts = 0;
};

// free_responses - release a partly built response array (wiping secrets).
void free_responses(pam_response *r, int n)
{
    if (r == nullptr)
        return;
    for (int i = 0; i < n; ++i) {
        if (r[i].resp != nullptr) {
            explicit_bzero(r[i].resp, strlen(r[i].resp));
            free(r[i].resp);
        }
    }
    free(r);
}

// conversation - answer PAM_PROMPT_ECHO_OFF with the password, log
// PAM_TEXT_INFO/PAM_ERROR_MSG (bounded, sanitised), refuse everything else
// (an echo-on prompt is a user-name or OTP question we cannot answer).
// C callback: must not throw, allocates with malloc as PAM frees with free().
int conversation(int num_msg, const struct pam_message **msg, struct pam_response **resp,
                 void *appdata) noexcept
{
    auto *cd = static_cast<ConvData *>(appdata);
    if (num_msg <= 0 || num_msg > max_conv_messages || msg == nullptr || resp == nullptr ||
        cd == nullptr)
        return PAM_CONV_ERR;
    auto *r = static_cast<pam_response *>(
        calloc(static_cast<std::size_t>(num_msg), sizeof(pam_response)));
    if (r == nullptr)
        return PAM_BUF_ERR;
    for (int i = 0; i < num_msg; ++i) {
        const pam_message *m = msg[i];
        if (m == nullptr) {
            free_responses(r, num_msg);
            return PAM_CONV_ERR;
        }
        switch (m->msg_style) {
        case PAM_PROMPT_ECHO_OFF:
            if (++cd->prompts > max_password_prompts) {
                free_responses(r, num_msg);
                return PAM_CONV_ERR;
            }
            r[i].resp = strdup(cd->password);
            if (r[i].resp == nullptr) {
                free_responses(r, num_msg);
                return PAM_BUF_ERR;
            }
            break;
        case PAM_ERROR_MSG:
        case PAM_TEXT_INFO: {
            // Messages come from PAM modules and may quote user input.
            std::string text = su::printable(m->msg ? m->msg : "", max_logged_msg);
            cd->inst->host->log(cd->inst->ictx, MODPOP3D_LOG_INFO,
                                "event=pam_message kind=%s text=\"%s\"",
                                m->msg_style == PAM_ERROR_MSG ? "error" : "info", text.c_str());
            break;
        }
        default:
            cd->inst->host->log(cd->inst->ictx, MODPOP3D_LOG_WARNING,
                                "event=pam_conv_refused style=%d", m->msg_style);
            free_responses(r, num_msg);
            return PAM_CONV_ERR;
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

// no_fail_delay - replaces PAM's own failure delay (pam_unix asks for ~2 s and
// pam_authenticate would sleep in our thread); the core applies growing
// delays per client itself.
void no_fail_delay(int, unsigned, void *) noexcept {}

// Handle - pam_end() on every path, with the last status.
struct Handle {
    pam_handle_t *h = nullptr;
    int last = PAM_SUCCESS;
    ~Handle()
    {
        if (h != nullptr)
            pam_end(h, last);
    }
};

// auth_outcome - pam_authenticate's result as a modapi outcome.
int32_t auth_outcome(int rc)
{
    switch (rc) {
    case PAM_SUCCESS:
        return MODPOP3D_OK;
    case PAM_USER_UNKNOWN:
        return MODPOP3D_E_NOUSER;
    case PAM_AUTH_ERR:
    case PAM_PERM_DENIED:
    case PAM_CRED_INSUFFICIENT:
    case PAM_MAXTRIES:
        return MODPOP3D_E_BADPASS;
    default: // PAM_AUTHINFO_UNAVAIL, PAM_SYSTEM_ERR, PAM_BUF_ERR, PAM_CONV_ERR, PAM_ABORT, ...
        return MODPOP3D_E_TEMP;
    }
}

// acct_outcome - pam_acct_mgmt's result: the password was right, so any
// refusal is a refused account, not a wrong secret.
int32_t acct_outcome(int rc)
{
    switch (rc) {
    case PAM_SUCCESS:
        return MODPOP3D_OK;
    case PAM_USER_UNKNOWN:
    case PAM_ACCT_EXPIRED:
    case PAM_NEW_AUTHTOK_REQD: // expired password: cannot be changed over POP3
    case PAM_PERM_DENIED:
    case PAM_AUTH_ERR:
        return MODPOP3D_E_PERM;
    default:
        return MODPOP3D_E_TEMP;
    }
}

int32_t conf_check(const modpop3d_host *host, const modpop3d_conf *conf) noexcept
{
    return modpop3d::guard(host, nullptr, [&] {
        int32_t rc = MODPOP3D_OK;
        const std::string service = modpop3d::confutil::str(host, conf, "service", "modpop3d");
        // A service name is a file name under /etc/pam.d.
        if (!su::plausible_name(service) || service.find_first_of("*?[]") != std::string::npos)
            rc = host->conf_error(conf, "service", "'%s' is not a valid PAM service name",
                                  su::printable(service).c_str());
        const std::string mailbox = modpop3d::confutil::str(host, conf, "mailbox");
        if (mailbox.find_first_not_of(" \t") == std::string::npos)
            rc = host->conf_error(conf, "mailbox", "the mailbox spec list is empty");
        const std::string group = modpop3d::confutil::str(host, conf, "mail-group");
        if (!group.empty()) {
            gid_t gid = 0;
            int err = 0;
            if (su::group_spec(group, gid, err) == su::Found::no)
                rc = host->conf_error(conf, "mail-group", "no such group '%s'",
                                      su::printable(group).c_str());
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
        inst->service = modpop3d::confutil::str(host, conf, "service", "modpop3d");
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

// Secret - a NUL-terminated password copy, wiped on destruction.
struct Secret {
    std::string s;
    ~Secret() { explicit_bzero(s.data(), s.size()); }
};

int32_t verify_plain(void *p, modpop3d_session *session, const char *user, const char *pass,
                     size_t pass_len, modpop3d_auth_result *res) noexcept
{
    auto &in = *static_cast<Instance *>(p);
    return modpop3d::guard(in.host, in.ictx, [&]() -> int32_t {
        const auto refuse = [&](int32_t status, const char *reason) {
            (void)in.host->password_dummy_verify(pass, pass_len);
            in.host->log(in.ictx, MODPOP3D_LOG_INFO, "event=auth_refused reason=%s user=\"%s\"",
                         reason, su::printable(user ? user : "").c_str());
            return status;
        };
        if (user == nullptr || !su::plausible_name(user))
            return refuse(MODPOP3D_E_NOUSER, "bad_name");
        // PAM takes C strings: a password with a NUL byte cannot be right,
        // and an empty one is never offered to the stack.
        if (pass_len == 0 || memchr(pass, 0, pass_len) != nullptr)
            return refuse(MODPOP3D_E_BADPASS, "unusable_password");

        // Refuse root and system accounts before PAM sees them, so that
        // their failure counters and logs are never touched from here.
        su::Account acct;
        int err = 0;
        if (su::by_name(user, acct, err) == su::Found::yes &&
            !su::uid_allowed(acct.uid, in.min_uid))
            return refuse(MODPOP3D_E_PERM, "uid_below_min_uid");

        Secret pw{std::string(pass, pass_len)};
        ConvData cd{&in, pw.s.c_str(), 0};
        const pam_conv conv{conversation, &cd};
        Handle h;
        h.last = pam_start(in.service.c_str(), user, &conv, &h.h);
        if (h.last != PAM_SUCCESS) {
            in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=backend_error call=pam_start rc=%d",
                         h.last);
            h.h = nullptr; // pam_start failed: nothing to end
            return MODPOP3D_E_TEMP;
        }
        const char *client_ip = in.host->session_get(session, "client_ip");
        if (client_ip != nullptr)
            h.last = pam_set_item(h.h, PAM_RHOST, client_ip);
        if (h.last == PAM_SUCCESS)
            h.last = pam_set_item(h.h, PAM_RUSER, user);
        if (h.last == PAM_SUCCESS)
            h.last =
                pam_set_item(h.h, PAM_FAIL_DELAY, reinterpret_cast<const void *>(no_fail_delay));
        if (h.last != PAM_SUCCESS) {
            in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                         "event=backend_error call=pam_set_item error=\"%s\"",
                         pam_strerror(h.h, h.last));
            return MODPOP3D_E_TEMP;
        }

        h.last = pam_authenticate(h.h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
        int32_t outcome = auth_outcome(h.last);
        if (outcome != MODPOP3D_OK) {
            in.host->log(in.ictx, outcome == MODPOP3D_E_TEMP ? MODPOP3D_LOG_ERR : MODPOP3D_LOG_INFO,
                         "event=pam_authenticate user=\"%s\" error=\"%s\"",
                         su::printable(user).c_str(), pam_strerror(h.h, h.last));
            return outcome;
        }
        h.last = pam_acct_mgmt(h.h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
        outcome = acct_outcome(h.last);
        if (outcome != MODPOP3D_OK) {
            in.host->log(in.ictx, outcome == MODPOP3D_E_TEMP ? MODPOP3D_LOG_ERR : MODPOP3D_LOG_INFO,
                         "event=pam_acct_mgmt user=\"%s\" error=\"%s\"",
                         su::printable(user).c_str(), pam_strerror(h.h, h.last));
            return outcome;
        }

        // A module may have mapped the login name to another account.
        const void *item = nullptr;
        std::string pam_user = user;
        if (pam_get_item(h.h, PAM_USER, &item) == PAM_SUCCESS && item != nullptr)
            pam_user = static_cast<const char *>(item);

        switch (su::by_name(pam_user.c_str(), acct, err)) {
        case su::Found::yes:
            break;
        case su::Found::no:
            in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                         "event=auth_refused reason=no_passwd_entry user=\"%s\"",
                         su::printable(pam_user).c_str());
            return MODPOP3D_E_PERM;
        case su::Found::error:
            in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                         "event=backend_error call=getpwnam error=\"%s\"", strerror(err));
            return MODPOP3D_E_TEMP;
        }
        if (!su::uid_allowed(acct.uid, in.min_uid)) {
            in.host->log(in.ictx, MODPOP3D_LOG_INFO,
                         "event=auth_refused reason=uid_below_min_uid user=\"%s\"",
                         su::printable(pam_user).c_str());
            return MODPOP3D_E_PERM;
        }
        gid_t gid = acct.gid;
        if (!in.mail_group.empty()) {
            const su::Found f = su::group_spec(in.mail_group, gid, err);
            if (f != su::Found::yes) {
                in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                             "event=config_error key=mail-group error=\"%s\"",
                             f == su::Found::no ? "no such group" : strerror(err));
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
    nullptr, // PAM never reveals a stored secret: no APOP, CRAM-MD5, SCRAM
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
    // pam_unix reads shadow; PAM stacks may talk to the network. Not
    // THREAD_SAFE: PAM modules are not all reentrant, so the core
    // serialises calls on one instance.
    MODPOP3D_MODF_NEEDS_ROOT | MODPOP3D_MODF_BLOCKING,
    "auth_pam",
    "0.1.0",
    "Linux-PAM (pam_authenticate and pam_acct_mgmt)",
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
