// locks.cpp - dotlock (link(2) + link count, as NFS needs), fcntl, flock.
//
// fcntl uses open-file-description locks (F_OFD_SETLK) where the kernel has
// them: they conflict with the MDAs' classic POSIX locks exactly like those
// do, but belong to our descriptor, so two sessions inside one process (the
// virtual-mail fast path) exclude each other, and closing an unrelated
// descriptor of the same file cannot drop our lock.
//
// A dotlock found held is judged by its owner record (lock_owner.hpp): a
// dead owner's lock is broken at once; the age rule (dotlock-stale) is only
// for locks whose owner cannot be asked.
#include "locks.hpp"

#include "lock_owner.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace mbox
{
namespace lockowner = modpop3d::lockowner;

namespace
{

uint64_t now_ms()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

std::string errstr(const char *what, int e)
{
    return std::string(what) + ": " + std::strerror(e);
}

// host_for_name - the host name as a file name part.
std::string host_for_name()
{
    char host[64] = "localhost";
    (void)gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; ++c)
        if (*c == '/' || *c == '.')
            *c = '_';
    return host;
}

unsigned next_random()
{
    static thread_local unsigned state =
        static_cast<unsigned>(getpid()) ^ static_cast<unsigned>(now_ms() * 2654435761u);
    state = state * 1103515245u + 12345u;
    return state >> 8;
}

} // namespace

int fd_lock_fcntl(int fd)
{
    struct flock fl {
    };
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
        return 0;
    if (errno != EINVAL)
        return errno == EACCES ? EAGAIN : errno;
    fl = {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
#endif
    if (fcntl(fd, F_SETLK, &fl) == 0)
        return 0;
    return errno == EACCES ? EAGAIN : errno;
}

void fd_unlock_fcntl(int fd)
{
    struct flock fl {
    };
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
        return;
    fl = {};
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
#endif
    (void)fcntl(fd, F_SETLK, &fl);
}

bool LockSet::has_dotlock() const
{
    for (auto k : held_)
        if (k == LockKind::dotlock)
            return true;
    return false;
}

LockResult LockSet::try_dotlock(std::string &why)
{
    // A unique "hitching post" in the same directory, linked to NAME.lock.
    // link() may report failure over NFS although it worked, so success is
    // decided by the post's link count (2 = the lock is ours). The post
    // carries our owner record, so whoever finds the lock can tell whether
    // we still run.
    char suffix[160];
    std::snprintf(suffix, sizeof suffix, ".%s.%ld.%x", host_for_name().c_str(),
                  static_cast<long>(getpid()), next_random());
    std::string post = lockpath_ + suffix;
    int pfd = open(post.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (pfd < 0) {
        int e = errno;
        why = errstr("create dotlock", e);
        return (e == EACCES || e == EPERM || e == EROFS) ? LockResult::perm : LockResult::io;
    }
    const std::string record = lockowner::text(lockowner::self());
    ssize_t wr = write(pfd, record.data(), record.size());
    close(pfd);
    if (wr != static_cast<ssize_t>(record.size())) {
        unlink(post.c_str());
        why = "write dotlock: short write";
        return LockResult::io;
    }
    // Three rounds at most: a lock that vanishes or is broken as stale is
    // followed by one more link; none of them waits.
    LockResult res = LockResult::busy;
    for (int round = 0; round < 3; ++round) {
        (void)link(post.c_str(), lockpath_.c_str());
        struct stat st;
        if (lstat(post.c_str(), &st) == 0 && st.st_nlink == 2) {
            struct stat lst;
            if (lstat(lockpath_.c_str(), &lst) == 0) {
                lock_dev_ = lst.st_dev;
                lock_ino_ = lst.st_ino;
            }
            res = LockResult::ok;
            break;
        }
        if (!break_if_stale(why))
            break;
    }
    unlink(post.c_str());
    return res;
}

bool LockSet::break_if_stale(std::string &why)
{
    struct stat judged;
    lockowner::Owner owner;
    std::string verdict = "unreadable dotlock";
    lockowner::Verdict v = lockowner::Verdict::unknown;
    int lfd = open(lockpath_.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (lfd >= 0) {
        bool ok = fstat(lfd, &judged) == 0;
        if (ok)
            v = lockowner::judge_fd(lfd, owner, verdict);
        close(lfd);
        if (!ok)
            return false;
    } else if (errno == ENOENT) {
        return true; // released meanwhile: link again
    } else if (lstat(lockpath_.c_str(), &judged) != 0) {
        // Not ours to read (an MDA's mode 0 dotlock): its age still counts.
        return errno == ENOENT;
    }
    bool stale = v == lockowner::Verdict::dead;
    if (v == lockowner::Verdict::unknown && cfg_.stale_ms > 0) {
        // The last resort for locks whose owner cannot be asked: their age.
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t age_ms = (static_cast<int64_t>(now.tv_sec) - judged.st_mtim.tv_sec) * 1000;
        if (age_ms > static_cast<int64_t>(cfg_.stale_ms)) {
            stale = true;
            verdict += ", untouched for " + std::to_string(age_ms / 1000) + "s";
        }
    }
    if (!stale) {
        why = "dotlock held: " + verdict;
        return false;
    }
    // Move it aside atomically (rename is atomic even on NFS), then make sure
    // the inode moved is the one judged; a lock taken meanwhile is put back.
    char suffix[64];
    std::snprintf(suffix, sizeof suffix, ".stale.%ld.%x", static_cast<long>(getpid()),
                  next_random());
    std::string aside = lockpath_ + suffix;
    if (rename(lockpath_.c_str(), aside.c_str()) != 0)
        return errno == ENOENT; // someone else removed it: link again
    struct stat moved;
    if (lstat(aside.c_str(), &moved) != 0 || moved.st_ino != judged.st_ino ||
        moved.st_dev != judged.st_dev) {
        (void)link(aside.c_str(), lockpath_.c_str());
        unlink(aside.c_str());
        why = "dotlock changed while it was judged";
        return false;
    }
    unlink(aside.c_str());
    if (!broke_.empty())
        broke_ += "; ";
    broke_ += verdict;
    return true;
}

LockResult LockSet::try_one(LockKind k, std::string &why)
{
    switch (k) {
    case LockKind::dotlock:
        return try_dotlock(why);
    case LockKind::fcntl: {
        int e = fd_lock_fcntl(fd_);
        if (e == 0)
            return LockResult::ok;
        if (e == EAGAIN)
            return LockResult::busy;
        why = errstr("fcntl", e);
        return LockResult::io;
    }
    case LockKind::flock:
        if (::flock(fd_, LOCK_EX | LOCK_NB) == 0)
            return LockResult::ok;
        if (errno == EWOULDBLOCK)
            return LockResult::busy;
        why = errstr("flock", errno);
        return LockResult::io;
    }
    return LockResult::io;
}

void LockSet::drop_one(LockKind k)
{
    switch (k) {
    case LockKind::dotlock: {
        // Only remove the lock if it is still the one we made.
        struct stat st;
        if (lstat(lockpath_.c_str(), &st) == 0 && st.st_dev == lock_dev_ && st.st_ino == lock_ino_)
            unlink(lockpath_.c_str());
        break;
    }
    case LockKind::fcntl:
        fd_unlock_fcntl(fd_);
        break;
    case LockKind::flock:
        ::flock(fd_, LOCK_UN);
        break;
    }
}

LockResult LockSet::acquire(const std::string &path, int fd, const LockConfig &cfg,
                            std::string &why, std::string &broke)
{
    release();
    path_ = path;
    lockpath_ = path + ".lock";
    fd_ = fd;
    cfg_ = cfg;
    broke_.clear();
    LockResult res = LockResult::ok;
    for (auto k : cfg.order) {
        res = try_one(k, why);
        if (res != LockResult::ok)
            break;
        held_.push_back(k);
    }
    broke = broke_;
    if (res == LockResult::ok)
        return res;
    // Never sit on some locks while others are busy: that is how deadlocks
    // with an MDA using another order happen. The core retries later.
    release();
    fd_ = fd;
    if (res == LockResult::busy && why.empty())
        why = "locked by another process";
    return res;
}

void LockSet::release()
{
    while (!held_.empty()) {
        drop_one(held_.back());
        held_.pop_back();
    }
}

LockResult LockSet::refresh(std::string &why)
{
    if (!has_dotlock())
        return LockResult::ok;
    struct stat st;
    if (lstat(lockpath_.c_str(), &st) != 0 || st.st_ino != lock_ino_ || st.st_dev != lock_dev_) {
        why = "our dotlock was removed by someone else";
        return LockResult::io;
    }
    if (utimensat(AT_FDCWD, lockpath_.c_str(), nullptr, AT_SYMLINK_NOFOLLOW) != 0) {
        why = errstr("touch dotlock", errno);
        return LockResult::io;
    }
    return LockResult::ok;
}

LockResult LockSet::adopt_fd(int newfd, std::string &why)
{
    LockResult res = LockResult::ok;
    for (auto k : held_) {
        if (k == LockKind::fcntl) {
            int e = fd_lock_fcntl(newfd);
            if (e != 0) {
                why = errstr("fcntl on the new file", e);
                res = LockResult::busy;
            }
        } else if (k == LockKind::flock) {
            if (::flock(newfd, LOCK_EX | LOCK_NB) != 0) {
                why = errstr("flock on the new file", errno);
                res = LockResult::busy;
            }
        }
    }
    for (auto k : held_)
        if (k != LockKind::dotlock && fd_ >= 0) {
            if (k == LockKind::fcntl)
                fd_unlock_fcntl(fd_);
            else
                ::flock(fd_, LOCK_UN);
        }
    fd_ = newfd;
    return res;
}

} // namespace mbox
