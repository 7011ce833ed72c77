// locks.hpp - the MDA's locks on an mbox: NFS-safe dotlock, fcntl and flock,
// taken in the configured order and held for the whole session.
//
// Taking them never waits: one non-blocking attempt at each lock, and on the
// first busy one everything taken is released again and "busy" returned.
// Retrying is the core's business (its event loop's timer, up to its
// lock-wait), so a held mailbox never stalls other sessions of a worker.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace mbox
{

enum class LockKind { dotlock, fcntl, flock };

struct LockConfig {
    std::vector<LockKind> order{LockKind::dotlock, LockKind::fcntl};
    // A dotlock without a judgeable owner (another host's, or an MDA's empty
    // one) older than this is removed; 0: never.
    uint64_t stale_ms = 600000;
};

enum class LockResult { ok, busy, perm, io };

class LockSet
{
  public:
    LockSet() = default;
    ~LockSet() { release(); }
    LockSet(const LockSet &) = delete;
    LockSet &operator=(const LockSet &) = delete;

    // acquire - all locks on `path` (open as `fd`), one attempt each, never
    // sleeping. `why` gets a short reason on failure; `broke` says whose
    // stale dotlock was removed on the way ("" if none).
    LockResult acquire(const std::string &path, int fd, const LockConfig &cfg, std::string &why,
                       std::string &broke);
    // release - drop every lock, in reverse order. Idempotent.
    void release();
    // refresh - touch our dotlock so nobody considers it stale.
    LockResult refresh(std::string &why);
    // adopt_fd - after the mbox was replaced by rename: lock the new file's fd
    // (fcntl/flock) while the dotlock is still held, and release the old fd's.
    LockResult adopt_fd(int newfd, std::string &why);
    bool has_dotlock() const;

  private:
    LockResult try_one(LockKind k, std::string &why);
    void drop_one(LockKind k);
    LockResult try_dotlock(std::string &why);
    // break_if_stale - judge the dotlock held by someone else; remove it when
    // its owner is dead (or, for a foreign one, it is older than stale_ms).
    // True when it was removed (or vanished): then linking is tried again.
    bool break_if_stale(std::string &why);

    std::string path_;
    std::string lockpath_;
    int fd_ = -1;
    LockConfig cfg_;
    std::vector<LockKind> held_;
    dev_t lock_dev_ = 0;
    ino_t lock_ino_ = 0;
    std::string broke_;
};

// fd_lock_fcntl - an exclusive OFD (or, without OFD support, POSIX) lock on
// the whole file. Returns 0, or errno (EAGAIN when busy).
int fd_lock_fcntl(int fd);
void fd_unlock_fcntl(int fd);

} // namespace mbox
