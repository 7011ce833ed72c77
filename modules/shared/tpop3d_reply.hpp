// tpop3d_reply.hpp - reading the mailbox of a tpop3d auth-other / auth-perl
// reply ("mailbox", optional "mboxtype") into a modpop3d mailbox spec.
// Header-only, shared by auth_other and auth_perl.
#pragma once

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

} // namespace modpop3d::tpop3d
