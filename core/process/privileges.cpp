// privileges.cpp - the privilege drop and chroot of worker and inetd
// processes (see privileges.hpp).
#include "process/privileges.hpp"

#include "config/chroot_dir.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace modpop3d::daemon
{

namespace
{

struct Target {
    uid_t uid = 0;
    gid_t gid = 0;
};

bool is_root()
{
    return getuid() == 0 || geteuid() == 0;
}

// resolve - the uid and gid to become; false with `why` when refused.
bool resolve(const config::CoreSettings &s, Target &t, bool &change, std::string &why)
{
    change = false;
    if (!is_root()) {
        if (!s.mail_user.empty()) {
            passwd *pw = getpwnam(s.mail_user.c_str());
            if (pw == nullptr || pw->pw_uid != getuid()) {
                why = "mail-user '" + s.mail_user +
                      "' differs from the user running modpop3d; start it as root to switch";
                return false;
            }
        }
        return true;
    }
    if (s.mail_user.empty()) {
        why = "running as root needs 'mail-user' (the user owning the virtual mailboxes); "
              "sessions never run as root";
        return false;
    }
    passwd *pw = getpwnam(s.mail_user.c_str());
    if (pw == nullptr) {
        why = "mail-user '" + s.mail_user + "' does not exist";
        return false;
    }
    if (pw->pw_uid == 0) {
        why = "mail-user must not be root";
        return false;
    }
    t.uid = pw->pw_uid;
    t.gid = pw->pw_gid;
    if (!s.mail_group.empty()) {
        group *gr = getgrnam(s.mail_group.c_str());
        if (gr == nullptr) {
            why = "mail-group '" + s.mail_group + "' does not exist";
            return false;
        }
        t.gid = gr->gr_gid;
    }
    change = true;
    return true;
}

// chroot_needs_root - the refusal of a login-chroot without root, or "".
std::string chroot_needs_root(const std::string &dir)
{
    if (dir.empty() || is_root())
        return "";
    return "login-chroot " + dir +
           ": entering a chroot needs modpop3d started as root; start it as root or remove "
           "login-chroot";
}

} // namespace

bool check_privileges(const config::CoreSettings &s, std::string &why, std::string *key)
{
    if (key != nullptr)
        *key = "mail-user";
    Target t;
    bool change = false;
    if (!resolve(s, t, change, why))
        return false;
    why = chroot_needs_root(s.login_chroot);
    if (!why.empty()) {
        if (key != nullptr)
            *key = "login-chroot";
        return false;
    }
    return true;
}

bool enter_chroot(const std::string &dir, std::string &why)
{
    // Read /etc/localtime now: log time stamps need it, and inside the
    // chroot it is gone.
    tzset();
    if (chroot(dir.c_str()) != 0) {
        why = "login-chroot " + dir + ": chroot: " + std::strerror(errno);
        return false;
    }
    if (chdir("/") != 0) {
        why = "login-chroot " + dir + ": chdir(\"/\"): " + std::strerror(errno);
        return false;
    }
    return true;
}

bool drop_privileges(const config::CoreSettings &s, std::string &why, const std::string &chroot_dir)
{
    Target t;
    bool change = false;
    if (!resolve(s, t, change, why))
        return false;
    if (!chroot_dir.empty()) {
        why = chroot_needs_root(chroot_dir);
        if (!why.empty())
            return false;
        // Checked again here: the directory may have changed since the
        // configuration was read.
        why = config::check_chroot_dir(chroot_dir);
        if (!why.empty() || !enter_chroot(chroot_dir, why))
            return false;
    }
    if (!change)
        return true;
    if (setgroups(1, &t.gid) != 0 || setgid(t.gid) != 0 || setuid(t.uid) != 0) {
        why = std::string("cannot switch to mail-user: ") + std::strerror(errno);
        return false;
    }
    if (setuid(0) == 0 || getuid() == 0 || geteuid() == 0) {
        why = "could regain root after dropping privileges";
        return false;
    }
    return true;
}

uid_t fast_path_uid(const config::CoreSettings &s)
{
    if (!s.mail_user.empty())
        if (passwd *pw = getpwnam(s.mail_user.c_str()); pw != nullptr)
            return pw->pw_uid;
    return getuid();
}

bool become_user(const std::string &user, uid_t uid, gid_t gid, std::string &why)
{
    if (uid == 0) {
        why = "sessions never run as root";
        return false;
    }
    // The user's own groups when the system knows the name with this uid
    // (a PAM or passwd user); otherwise only the granted group.
    passwd *pw = getpwnam(user.c_str());
    int rc =
        pw != nullptr && pw->pw_uid == uid ? initgroups(user.c_str(), gid) : setgroups(1, &gid);
    if (rc != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        why = "cannot switch to uid " + std::to_string(uid) + ": " + std::strerror(errno);
        return false;
    }
    if (setuid(0) == 0 || getuid() == 0 || geteuid() == 0 || (getgid() == 0 && gid != 0)) {
        why = "could regain root after switching to uid " + std::to_string(uid);
        return false;
    }
    return true;
}

} // namespace modpop3d::daemon
