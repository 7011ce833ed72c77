// sysuser.hpp - system account lookups shared by auth_passwd, auth_pam and
// auth_other: login-name plausibility checks, reentrant passwd/group lookups,
// the min-uid rule, and writing the common result keys.
//
// Header-only and compiled into each module (modules link against nothing from
// the core, and nothing from each other).
#pragma once

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <grp.h>
#include <modpop3d/module.h>
#include <pwd.h>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <unistd.h>
#include <vector>

namespace modpop3d::sysuser
{

// Longest login name we look up. LOGIN_NAME_MAX is 256 with the NUL on Linux;
// useradd allows 32. Anything longer is not a system account.
inline constexpr std::size_t max_name_len = 255;

// plausible_name - could `name` be a system account name? Refuses the empty
// name, over-long names, control characters and DEL, white space, '/', ':'
// and ',' (field separators of passwd(5)/group(5)), "." and "..", and a
// leading '-' (never let a name look like an option). Unknown names simply do
// not match later; this only keeps hostile bytes away from NSS and PAM.
inline bool plausible_name(std::string_view name) noexcept
{
    if (name.empty() || name.size() > max_name_len || name == "." || name == ".." ||
        name.front() == '-')
        return false;
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f || c == ' ' || c == '/' || c == ':' || c == ',')
            return false;
    }
    return true;
}

// parse_id - a decimal uid/gid without sign or junk, below 2^32 - 1 (which
// is (uid_t)-1, "no id").
inline bool parse_id(std::string_view s, uint32_t &ret) noexcept
{
    if (s.empty() || s.size() > 10)
        return false;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v >= 0xffffffffull)
        return false;
    ret = static_cast<uint32_t>(v);
    return true;
}

// One passwd entry, copied out of the NSS buffer.
struct Account {
    std::string name;
    std::string passwd; // the passwd(5) password field ("x" with shadow)
    std::string home;
    uid_t uid = 0;
    gid_t gid = 0;
};

enum class Found { yes, no, error };

namespace detail
{
inline long initial_buf(int which) noexcept
{
    long n = sysconf(which);
    return n > 0 && n < 65536 ? n : 4096;
}
} // namespace detail

// by_name / by_uid - getpwnam_r / getpwuid_r with a growing buffer (bounded
// at 1 MiB). Found::error sets `err` to the errno-style failure (EIO when an
// NSS backend is down, for example): callers map that to MODPOP3D_E_TEMP.
template <typename Lookup> Found lookup_passwd(Lookup &&fn, Account &out, int &err)
{
    std::vector<char> buf(static_cast<std::size_t>(detail::initial_buf(_SC_GETPW_R_SIZE_MAX)));
    for (;;) {
        passwd pw{};
        passwd *res = nullptr;
        int rc = fn(&pw, buf.data(), buf.size(), &res);
        if (rc == ERANGE && buf.size() < (1u << 20)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        // glibc returns 0 with res == NULL for "not found"; some backends
        // report ENOENT or ESRCH instead, which means the same.
        if (res == nullptr && (rc == 0 || rc == ENOENT || rc == ESRCH))
            return Found::no;
        if (res == nullptr) {
            err = rc != 0 ? rc : EIO;
            return Found::error;
        }
        out.name = pw.pw_name ? pw.pw_name : "";
        out.passwd = pw.pw_passwd ? pw.pw_passwd : "";
        out.home = pw.pw_dir ? pw.pw_dir : "";
        out.uid = pw.pw_uid;
        out.gid = pw.pw_gid;
        return Found::yes;
    }
}

inline Found by_name(const char *name, Account &out, int &err)
{
    return lookup_passwd([&](passwd *pw, char *b, std::size_t n,
                             passwd **r) { return getpwnam_r(name, pw, b, n, r); },
                         out, err);
}

inline Found by_uid(uid_t uid, Account &out, int &err)
{
    return lookup_passwd([&](passwd *pw, char *b, std::size_t n,
                             passwd **r) { return getpwuid_r(uid, pw, b, n, r); },
                         out, err);
}

// user_spec - a user given by name or number (config keys, helper replies).
inline Found user_spec(const std::string &spec, Account &out, int &err)
{
    uint32_t id = 0;
    if (parse_id(spec, id))
        return by_uid(static_cast<uid_t>(id), out, err);
    if (!plausible_name(spec))
        return Found::no;
    return by_name(spec.c_str(), out, err);
}

// group_spec - a group given by name or number. A number need not exist in
// group(5): the kernel does not care, and tpop3d accepted numbers as they are.
inline Found group_spec(const std::string &spec, gid_t &out, int &err)
{
    uint32_t id = 0;
    if (parse_id(spec, id)) {
        out = static_cast<gid_t>(id);
        return Found::yes;
    }
    if (!plausible_name(spec))
        return Found::no;
    std::vector<char> buf(static_cast<std::size_t>(detail::initial_buf(_SC_GETGR_R_SIZE_MAX)));
    for (;;) {
        group gr{};
        group *res = nullptr;
        int rc = getgrnam_r(spec.c_str(), &gr, buf.data(), buf.size(), &res);
        if (rc == ERANGE && buf.size() < (1u << 20)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (res == nullptr && (rc == 0 || rc == ENOENT || rc == ESRCH))
            return Found::no;
        if (res == nullptr) {
            err = rc != 0 ? rc : EIO;
            return Found::error;
        }
        out = gr.gr_gid;
        return Found::yes;
    }
}

// uid_allowed - the min-uid rule: never uid 0, whatever min-uid says, and
// nothing below min-uid (system accounts such as daemon, mail, nobody's
// neighbours).
inline bool uid_allowed(uid_t uid, int64_t min_uid) noexcept
{
    return uid != 0 && static_cast<int64_t>(uid) >= min_uid;
}

// set_common - write user, uid, gid, home and mailbox into the auth result.
// `mailbox` is the instance's template, handed over unexpanded: the core
// expands $(user)/$(home) with its sanitising rules when it opens the maildrop.
inline int32_t set_common(const modpop3d_host *host, modpop3d_auth_result *res,
                          const std::string &user, uid_t uid, gid_t gid, const std::string &home,
                          const std::string &mailbox)
{
    const std::string u = std::to_string(uid);
    const std::string g = std::to_string(gid);
    int32_t rc = host->result_set(res, "user", user.c_str());
    if (rc == MODPOP3D_OK)
        rc = host->result_set(res, "uid", u.c_str());
    if (rc == MODPOP3D_OK)
        rc = host->result_set(res, "gid", g.c_str());
    if (rc == MODPOP3D_OK && !home.empty())
        rc = host->result_set(res, "home", home.c_str());
    if (rc == MODPOP3D_OK && !mailbox.empty())
        rc = host->result_set(res, "mailbox", mailbox.c_str());
    return rc;
}

// printable - a bounded, log-safe copy of untrusted text (user names, helper
// and PAM messages): control bytes, quotes and backslashes become '?', and
// at most `max` bytes are kept.
inline std::string printable(std::string_view s, std::size_t max = 64)
{
    std::string out;
    out.reserve(std::min(s.size(), max) + 3);
    for (unsigned char c : s.substr(0, max))
        out += (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : static_cast<char>(c);
    if (s.size() > max)
        out += "...";
    return out;
}

} // namespace modpop3d::sysuser
