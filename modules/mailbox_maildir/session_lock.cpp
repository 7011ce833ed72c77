// session_lock.cpp - link(2)-based exclusive lock with stale-lock recovery
// by owner (lock_owner.hpp), the age rule only for owners that cannot be
// asked.
#include "session_lock.hpp"

#include "lock_owner.hpp"

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mailbox_maildir
{
namespace
{

std::string host_name()
{
    char h[256] = {};
    if (::gethostname(h, sizeof h - 1) != 0 || h[0] == '\0')
        return "localhost";
    // Keep the name usable inside a file name.
    std::string s(h);
    for (char &c : s)
        if (c == '/' || c == ':' || c < 0x21 || c > 0x7e)
            c = '_';
    return s;
}

} // namespace

SessionLock::Result SessionLock::acquire(int dirfd, const std::string &unique, int64_t stale_sec,
                                         std::string &broke, int &err)
{
    namespace lockowner = modpop3d::lockowner;
    broke.clear();
    err = 0;
    std::string mine = std::string(kLockName) + "." + host_name() + "." +
                       std::to_string(::getpid()) + "." + unique;
    UniqueFd fd(::openat(dirfd, mine.c_str(),
                         O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600));
    if (!fd.valid()) {
        err = errno;
        return Result::error;
    }
    const std::string record = lockowner::text(lockowner::self());
    if (::write(fd.get(), record.data(), record.size()) != static_cast<ssize_t>(record.size())) {
        err = errno != 0 ? errno : EIO;
        ::unlinkat(dirfd, mine.c_str(), 0);
        return Result::error;
    }

    Result result = Result::busy;
    // Three rounds at most: after a lock vanished or was broken as stale,
    // linking is tried again. Nothing here waits.
    for (int attempt = 0; attempt < 3; ++attempt) {
        int rc = ::linkat(dirfd, mine.c_str(), dirfd, kLockName, 0);
        int link_errno = errno;
        struct stat st;
        if (rc == 0 || (::fstat(fd.get(), &st) == 0 && st.st_nlink == 2)) {
            result = Result::taken;
            break;
        }
        if (link_errno != EEXIST) {
            err = link_errno;
            result = Result::error;
            break;
        }
        struct stat lk;
        lockowner::Owner owner;
        std::string why = "unreadable lock";
        lockowner::Verdict v = lockowner::Verdict::unknown;
        UniqueFd lfd(
            ::openat(dirfd, kLockName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
        int stat_rc = lfd.valid() ? ::fstat(lfd.get(), &lk)
                                  : ::fstatat(dirfd, kLockName, &lk, AT_SYMLINK_NOFOLLOW);
        if (stat_rc != 0) {
            if (errno == ENOENT)
                continue; // released meanwhile: try again
            err = errno;
            result = Result::error;
            break;
        }
        if (lfd.valid()) // else not ours to read: only its age counts
            v = lockowner::judge_fd(lfd.get(), owner, why);
        lfd.reset();
        bool stale = v == lockowner::Verdict::dead;
        if (v == lockowner::Verdict::unknown) {
            // The last resort for an owner that cannot be asked: the age.
            int64_t age = ::time(nullptr) - lk.st_mtim.tv_sec;
            if (age > stale_sec) {
                stale = true;
                why += ", not refreshed for " + std::to_string(age) + "s";
            }
        }
        if (!stale)
            break; // held by a live session
        // Stale. Move it aside atomically, then make sure we moved the inode we
        // judged; a fresh lock that raced in is put back.
        std::string aside = mine + ".stale";
        if (::renameat(dirfd, kLockName, dirfd, aside.c_str()) != 0)
            continue; // someone else broke or released it
        struct stat moved;
        if (::fstatat(dirfd, aside.c_str(), &moved, AT_SYMLINK_NOFOLLOW) == 0 &&
            (moved.st_ino != lk.st_ino || moved.st_dev != lk.st_dev)) {
            ::linkat(dirfd, aside.c_str(), dirfd, kLockName, 0);
            ::unlinkat(dirfd, aside.c_str(), 0);
            break;
        }
        ::unlinkat(dirfd, aside.c_str(), 0);
        if (!broke.empty())
            broke += "; ";
        broke += why;
    }
    ::unlinkat(dirfd, mine.c_str(), 0);
    if (result == Result::taken) {
        dirfd_ = dirfd;
        fd_ = std::move(fd);
    }
    return result;
}

bool SessionLock::still_ours() const
{
    struct stat a, b;
    return fd_.valid() && ::fstat(fd_.get(), &a) == 0 &&
           ::fstatat(dirfd_, kLockName, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino &&
           a.st_dev == b.st_dev;
}

bool SessionLock::refresh()
{
    if (!still_ours())
        return false;
    return ::futimens(fd_.get(), nullptr) == 0;
}

void SessionLock::release()
{
    if (!fd_.valid())
        return;
    if (still_ours())
        ::unlinkat(dirfd_, kLockName, 0);
    fd_.reset();
    dirfd_ = -1;
}

} // namespace mailbox_maildir
