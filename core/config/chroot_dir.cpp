// chroot_dir.cpp - the login-chroot safety check (see chroot_dir.hpp).
#include "config/chroot_dir.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>

namespace modpop3d::config
{

namespace
{

// unsafe_dir - why `path` (a directory) would let a user other than root
// change what lies below it, or "".
std::string unsafe_dir(const std::string &path, bool is_chroot)
{
    struct stat st {
    };
    if (stat(path.c_str(), &st) != 0)
        return path + ": " + std::strerror(errno);
    if (!S_ISDIR(st.st_mode))
        return path + " is not a directory";
    if (st.st_uid != 0)
        return path + " is not owned by root (chown root " + path + ")";
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (is_chroot || (st.st_mode & S_ISVTX) == 0))
        return path + " is writable by group or others (chmod go-w " + path + ")";
    return "";
}

} // namespace

std::string check_chroot_dir(const std::string &dir)
{
    struct stat st {
    };
    if (stat(dir.c_str(), &st) != 0)
        return "login-chroot " + dir + ": " + std::strerror(errno);
    char real[PATH_MAX];
    if (realpath(dir.c_str(), real) == nullptr)
        return "login-chroot " + dir + ": " + std::strerror(errno);
    std::string path = real;
    std::string why = unsafe_dir(path, true);
    if (!why.empty())
        return "login-chroot: " + why;
    // Every directory above, up to "/".
    while (path != "/") {
        auto slash = path.rfind('/');
        path = slash == 0 ? "/" : path.substr(0, slash);
        why = unsafe_dir(path, false);
        if (!why.empty())
            return "login-chroot " + dir + ": " + why;
    }
    return "";
}

} // namespace modpop3d::config
