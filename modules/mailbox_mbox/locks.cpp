// locks.cpp - dotlock (link(2) + link count, as NFS needs), fcntl, flock.
//
// fcntl uses open-file-description locks (F_OFD_SETLK) where the kernel has
// them: they conflict with the MDAs' classic POSIX locks exactly like those
// do, but belong to our descriptor, so two sessions inside one process (the
// virtual-mail fast path) exclude each other, and closing an unrelated
// descriptor of the same file cannot drop our lock.
#include "locks.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <time.h>
#include <unistd.h>

namespace mbox
{
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
    // decided by the post's link count (2 = the lock is ours).
    char host[64] = "localhost";
    (void)gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; ++c)
        if (*c == '/' || *c == '.')
            *c = '_';
    char suffix[160];
    std::snprintf(suffix, sizeof suffix, ".%s.%ld.%x", host, static_cast<long>(getpid()),
                  next_random());
    std::string post = lockpath_ + suffix;
    int pfd = open(post.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (pfd < 0) {
        int e = errno;
        why = errstr("create dotlock", e);
        return (e == EACCES || e == EPERM || e == EROFS) ? LockResult::perm : LockResult::io;
    }
    char pid[32];
    int n = std::snprintf(pid, sizeof pid, "%ld\n", static_cast<long>(getpid()));
    ssize_t wr = write(pfd, pid, static_cast<std::size_t>(n));
    close(pfd);
    if (wr != n) {
        unlink(post.c_str());
        why = "write dotlock: short write";
        return LockResult::io;
    }
    (void)link(post.c_str(), lockpath_.c_str());
    struct stat st;
    bool ours = lstat(post.c_str(), &st) == 0 && st.st_nlink == 2;
    unlink(post.c_str());
    if (ours) {
        struct stat lst;
        if (lstat(lockpath_.c_str(), &lst) == 0) {
            lock_dev_ = lst.st_dev;
            lock_ino_ = lst.st_ino;
        }
        return LockResult::ok;
    }
    // Held by someone else: is it stale?
    struct stat lst;
    if (lstat(lockpath_.c_str(), &lst) != 0)
        return LockResult::busy; // vanished: the caller retries
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t age_ms = (static_cast<int64_t>(now.tv_sec) - lst.st_mtim.tv_sec) * 1000;
    if (cfg_.stale_ms > 0 && age_ms > static_cast<int64_t>(cfg_.stale_ms)) {
        // Re-check it is still the same stale file before removing it.
        struct stat again;
        if (lstat(lockpath_.c_str(), &again) == 0 && again.st_ino == lst.st_ino &&
            again.st_mtim.tv_sec == lst.st_mtim.tv_sec) {
            unlink(lockpath_.c_str());
            why = "removed a stale dotlock";
        }
    }
    return LockResult::busy;
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
                            std::string &why)
{
    release();
    path_ = path;
    lockpath_ = path + ".lock";
    fd_ = fd;
    cfg_ = cfg;
    uint64_t deadline = now_ms() + cfg.timeout_ms;
    uint64_t delay = 20;
    for (;;) {
        LockResult res = LockResult::ok;
        for (auto k : cfg.order) {
            res = try_one(k, why);
            if (res != LockResult::ok)
                break;
            held_.push_back(k);
        }
        if (res == LockResult::ok)
            return res;
        // Never sit on some locks while waiting for others: that is how
        // deadlocks with an MDA using another order happen.
        release();
        fd_ = fd;
        if (res != LockResult::busy)
            return res;
        uint64_t now = now_ms();
        if (now >= deadline) {
            if (why.empty())
                why = "locked by another process";
            return LockResult::busy;
        }
        uint64_t wait = std::min<uint64_t>(delay + next_random() % 20, deadline - now);
        std::this_thread::sleep_for(std::chrono::milliseconds(wait));
        delay = std::min<uint64_t>(delay * 2, 500);
    }
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
