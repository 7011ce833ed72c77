// locks.hpp - the MDA's locks on an mbox: NFS-safe dotlock, fcntl and flock,
// taken in the configured order and held for the whole session.
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
    uint64_t timeout_ms = 10000; // total time to get all locks
    uint64_t stale_ms = 600000;  // a dotlock older than this is removed
};

enum class LockResult { ok, busy, perm, io };

class LockSet
{
  public:
    LockSet() = default;
    ~LockSet() { release(); }
    LockSet(const LockSet &) = delete;
    LockSet &operator=(const LockSet &) = delete;

    // acquire - all locks on `path` (open as `fd`), retrying until the
    // timeout. `why` gets a short reason on failure.
    LockResult acquire(const std::string &path, int fd, const LockConfig &cfg, std::string &why);
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

    std::string path_;
    std::string lockpath_;
    int fd_ = -1;
    LockConfig cfg_;
    std::vector<LockKind> held_;
    dev_t lock_dev_ = 0;
    ino_t lock_ino_ = 0;
};

// fd_lock_fcntl - an exclusive OFD (or, without OFD support, POSIX) lock on
// the whole file. Returns 0, or errno (EAGAIN when busy).
int fd_lock_fcntl(int fd);
void fd_unlock_fcntl(int fd);

} // namespace mbox
