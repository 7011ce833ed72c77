// session_lock.hpp - the optional exclusive POP3 session lock of a maildir
// ("modpop3d-lock" in the maildir), NFS-safe.
//
// Taking it: write a unique file "modpop3d-lock.<host>.<pid>.<random>", then
// link(2) it to "modpop3d-lock"; success is a 0 return or, because link's
// answer can be lost on NFS, a link count of 2 on the unique file. The unique
// name is then removed; an open descriptor on the lock inode stays with us.
// The file holds the owner's record (lock_owner.hpp). A held lock whose owner
// is dead (this host, this boot, pid gone or reused; or an earlier boot) is
// stale at once; only when the owner cannot be asked (another host, a file
// without a record) does its age decide: keepalive() refreshes the lock's
// mtime, so one not refreshed for the stale age was left by a dead session.
// A stale lock is moved aside with rename(2) (atomic even on NFS), checked to
// be the very inode that was judged stale (put back otherwise) and removed,
// then taking the lock is tried again. acquire() never sleeps: a live lock is
// "busy" at once, and the core retries.
#pragma once

#include "unique_fd.hpp"

#include <cstdint>
#include <string>
#include <sys/types.h>

namespace mailbox_maildir
{

inline constexpr const char *kLockName = "modpop3d-lock";

class SessionLock
{
  public:
    enum class Result { taken, busy, error };

    SessionLock() = default;
    ~SessionLock() { release(); }
    SessionLock(const SessionLock &) = delete;
    SessionLock &operator=(const SessionLock &) = delete;

    // acquire - `unique` is a random suffix for the temporary names; `stale_sec`
    // the age after which a lock whose owner cannot be asked is broken;
    // `broke` says why a stale lock was broken ("" if none). On error `err`
    // holds the errno value.
    Result acquire(int dirfd, const std::string &unique, int64_t stale_sec, std::string &broke,
                   int &err);
    // refresh - touch the lock; false when it is no longer ours.
    bool refresh();
    // release - remove the lock if it is still ours.
    void release();
    bool held() const { return fd_.valid(); }

  private:
    bool still_ours() const;
    int dirfd_ = -1;
    UniqueFd fd_;
};

} // namespace mailbox_maildir
