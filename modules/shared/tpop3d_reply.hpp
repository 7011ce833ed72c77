// tpop3d_reply.hpp - reading a tpop3d auth-other / auth-perl "result=YES"
// reply (uid, gid, "mailbox" with an optional "mboxtype", "domain") into
// the modpop3d auth result. Header-only, shared by auth_other and auth_perl.
#pragma once

#include "sysuser.hpp"

#include <cstdint>
#include <modpop3d/module.h>
#include <string>

namespace modpop3d::tpop3d
{

// mailbox_spec - the spec for a reply's `path` (nullptr: none given, the
// instance's `fallback` template applies) and `type` (nullptr: none). The
// core reads a spec as a white-space separated list with $(...) variables,
// so a path from a script may contain neither; it must be absolute, either
// bare or as "type:/path" (then no separate mboxtype). False when refused.
inline bool mailbox_spec(const std::string *path, const std::string *type,
                         const std::string &fallback, std::string &spec)
{
    if (path == nullptr) {
        spec = fallback;
        return true;
    }
    const std::size_t colon = path->find(':');
    const std::size_t start = (colon != std::string::npos && (*path)[0] != '/') ? colon + 1 : 0;
    bool ok =
        path->size() > start && (*path)[start] == '/' && path->find("$(") == std::string::npos;
    for (unsigned char c : *path)
        ok = ok && c > 0x20 && c != 0x7f;
    if (type != nullptr) {
        ok = ok && start == 0 && !type->empty() && type->size() <= 32 &&
             type->find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
    }
    if (!ok)
        return false;
    spec = type != nullptr ? *type + ":" + *path : *path;
    return true;
}

// accept_yes - a result=YES reply as the auth result. uid and gid are
// names or numbers, and the uid must have a passwd entry (as in tpop3d: it
// gives $(home)) at or above `min_uid`. `find(key)` gives a reply value or
// nullptr; `event` names the module's log events ("helper", "perl").
// A malformed reply is TEMP (the site's code is wrong, not the password).
template <typename Find>
int32_t accept_yes(const modpop3d_host *host, modpop3d_ictx *ictx, const char *event,
                   int64_t min_uid, const std::string &fallback_mailbox, const char *user,
                   Find find, modpop3d_auth_result *res)
{
    namespace su = modpop3d::sysuser;
    const auto invalid = [&](const char *key) {
        host->log(ictx, MODPOP3D_LOG_ERR, "event=%s_bad_reply key=%s", event, key);
        return MODPOP3D_E_TEMP;
    };
    const std::string *uid = find("uid");
    const std::string *gid = find("gid");
    if (uid == nullptr)
        return invalid("uid");
    if (gid == nullptr)
        return invalid("gid");
    su::Account acct;
    int err = 0;
    const su::Found f = su::user_spec(*uid, acct, err);
    if (f == su::Found::error)
        return MODPOP3D_E_TEMP;
    if (f == su::Found::no)
        return invalid("uid");
    gid_t g = 0;
    if (su::group_spec(*gid, g, err) != su::Found::yes)
        return invalid("gid");
    if (!su::uid_allowed(acct.uid, min_uid)) {
        host->log(ictx, MODPOP3D_LOG_ERR,
                  "event=auth_refused reason=uid_below_min_uid user=\"%s\" uid=%u",
                  su::printable(user).c_str(), static_cast<unsigned>(acct.uid));
        return MODPOP3D_E_PERM;
    }
    std::string spec;
    if (!mailbox_spec(find("mailbox"), find("mboxtype"), fallback_mailbox, spec))
        return invalid("mailbox");
    // "domain" has no place in the modapi v1 result; it is logged only.
    if (const std::string *dom = find("domain"))
        host->log(ictx, MODPOP3D_LOG_DEBUG, "event=%s_domain_ignored domain=\"%s\"", event,
                  su::printable(*dom).c_str());
    return su::set_common(host, res, user, acct.uid, g, acct.home, spec);
}

} // namespace modpop3d::tpop3d
