// maildir.hpp - one open Maildir for one POP3 session: the object behind the
// struct modpop3d_mailbox_ops handle of mailbox_maildir.
//
// open() checks and locks, scan() lists new/ and cur/ (never tmp/) with exact
// sizes from the name, the size cache or the file, retrieve() streams a file
// in 64 KiB chunks honouring the sink's STOP and PAUSE, commit() unlinks
// deleted messages and marks retrieved ones seen, close() releases it all.
// Every file is opened relative to a directory descriptor with O_NOFOLLOW and
// checked (regular file, owned by the session's uid).
#pragma once

#include "arena.hpp"
#include "options.hpp"
#include "session_lock.hpp"
#include "unique_fd.hpp"

#include <cstdint>
#include <memory>
#include <modpop3d/module.h>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <sys/types.h>
#include <vector>

namespace mailbox_maildir
{

struct DovecotUidlist;
struct DirIdentity;
struct DirTimes;
class SizeCache;

class Maildir
{
  public:
    Maildir(const modpop3d_host *host, const modpop3d_ictx *ictx, const Options &opt);
    ~Maildir();
    Maildir(const Maildir &) = delete;
    Maildir &operator=(const Maildir &) = delete;

    int32_t open(const char *location);
    int32_t scan(uint32_t *ret_count);
    int32_t info(uint32_t index, modpop3d_msg_info *ret) const;
    int32_t retrieve(uint32_t index, uint64_t offset, const modpop3d_sink *sink);
    int32_t commit(const modpop3d_commit *changes);
    int32_t keepalive();
    void close();

    const modpop3d_host *host() const { return host_; }
    const modpop3d_ictx *ictx() const { return ictx_; }

  private:
    enum Dir : uint8_t { kNew = 0, kCur = 1 };

    // One listed message. `name` holds the base name, NUL, and when has_info
    // the info part (after ':'), NUL: so the base is a C string for UIDLs.
    struct Msg {
        const char *name = nullptr;
        const char *uidl = nullptr;
        uint64_t size = 0;
        uint64_t file_size = 0;
        int64_t received = 0;
        int64_t mtime_ns = 0;
        uint16_t base_len = 0;
        uint8_t dir = kNew;
        bool has_info = false;
        bool drop = false;
        bool cacheable_size = false;
        bool from_cache = false;   // listed from a trusted cache entry, no stat
        bool printable = false;    // name known to be 0x21-0x7E (from the cache)
        bool stat_pending = false; // listed without a stat: size_unlisted() checks it
        bool counted = false;      // sized by count_quick() (count_parallel)
        bool w_pending = false;    // stat_pending with a ,W= size: stat'ed, not read
        bool named = false;        // count_quick() took the size from ,W=
    };

    struct ScanStats {
        std::size_t symlinks = 0, not_regular = 0, foreign = 0, hard_links = 0, errors = 0;
        std::size_t from_name = 0, from_cache = 0, computed = 0, vanished = 0;
        std::size_t computed_or_named = 0; // sizes the cache did not give
        bool truncated = false;
        bool trusted = false;  // cache entries used by name, without stat
        bool snapshot = false; // the whole listing from the cache, no readdir
    };

    int dir_fd(uint8_t dir) const { return dir == kCur ? cur_fd_.get() : new_fd_.get(); }
    std::string_view base_of(const Msg &m) const { return {m.name, m.base_len}; }
    std::string_view info_of(const Msg &m) const;
    // full_name - "base[:info]" into buf (NAME_MAX + 1 bytes).
    const char *full_name(const Msg &m, char *buf) const;
    void set_name(Msg &m, uint8_t dir, std::string_view name);

    // open_dir - open and check (owner, mode) a directory; `st` gets its fstat.
    int32_t open_dir(int parent, const char *name, UniqueFd &out, bool &missing, struct stat &st);
    // list_dir - append dir's messages; names `trusted` knows are not stat'ed.
    // `defer`: regular files whose size must be counted are not stat'ed
    // here but checked when opened for counting (stat_pending).
    int32_t list_dir(uint8_t dir, ScanStats &stats, const SizeCache *trusted, bool defer);
    // list_and_size - read new/ and cur/, size every message, sort; `load` is
    // a SizeCache::Load.
    int32_t list_and_size(const SizeCache *trusted, int load, const SizeCache &cache,
                          ScanStats &stats);
    // take_snapshot - the listing straight from the cache's records.
    void take_snapshot(const SizeCache &cache, ScanStats &stats);
    // current_identity - uses open()'s fstats once (see open_stats_fresh_).
    bool current_identity(DirIdentity &out, DirTimes &times);
    // check_unchanged - `st` is the open message's fstat.
    void check_unchanged(Msg &m, const struct stat &st);
    void clean_tmp();
    // open_message - open and check (type, owner, links) the message file;
    // `st` gets its fstat. `no_atime`: open with O_NOATIME where permitted.
    int32_t open_message(Msg &m, UniqueFd &out, struct stat &st, bool no_atime);
    // acceptable_file - a regular file of the session's uid, with one link
    // when hard links are refused; a refusal is counted in `stats`.
    bool acceptable_file(const struct stat &st, ScanStats &stats) const;
    // stat_listed - list_dir's checks on a stat of the name (type, owner,
    // links); fills file_size, mtime_ns and received. False: skip it (then
    // counted in `stats`, except a name gone since readdir). `deferred`: the
    // stat comes long after readdir, so a name gone is looked for again
    // (renamed by another session) and counted as vanished when not found.
    bool stat_listed(Msg &m, ScanStats &stats, bool deferred);
    // named_size - the size from a plausible ,W= field (trust-w-size).
    bool named_size(Msg &m) const;
    bool relocate(Msg &m);
    int32_t compute_size(Msg &m);
    // size_unlisted - for a stat_pending message: open it, make list_dir's
    // checks on the open file (counted in `stats` when it is skipped), fill
    // the listing's facts and count its size.
    int32_t size_unlisted(Msg &m, ScanStats &stats);
    // count_size - read the open message `fd` (fstat `sb`) for its POP3 size,
    // through `buf` (kChunk bytes; this thread's chunk buffer when null).
    int32_t count_size(Msg &m, int fd, const struct stat &sb, char *buf = nullptr) const;
    // count_parallel - count the sizes of msgs_[todo[i]] with up to
    // opt_.size_threads threads when there are enough of them; a message
    // counted sets `counted`. Anything not plain (a vanished or renamed
    // file, a refused one, an error) is left for the serial path, which logs
    // and counts it exactly as before.
    void count_parallel(const std::vector<uint32_t> &todo);
    // count_quick - the thread-safe common case of size_unlisted() and
    // compute_size(): touches only `m` and `buf`, never the host, the arena
    // or msgs_; false leaves `m` as it was.
    bool count_quick(Msg &m, char *buf) const noexcept;
    // load_dovecot_uidlist - read <maildir>/dovecot-uidlist into `out`; left
    // empty (with a log line unless the file is just absent) when unusable.
    void load_dovecot_uidlist(DovecotUidlist &out);
    void write_cache(const ScanStats &stats, std::size_t cache_entries, bool cache_ok,
                     const DirIdentity &here, const DirTimes &fresh);
    std::string random_hex();
    // move_to_cur - mark seen; `touched` is the directory renamed from, or -1.
    bool move_to_cur(Msg &m, int &err, int &touched);

    const modpop3d_host *host_;
    const modpop3d_ictx *ictx_;
    const Options &opt_;
    uid_t uid_;
    std::string location_;
    UniqueFd dir_fd_, new_fd_, cur_fd_, tmp_fd_;
    // The directories' fstats from open(). The scan that follows an open
    // uses them instead of stating again: they were taken before its listing
    // begins, which is all its cache check needs. A later scan stats anew.
    struct stat root_st_ {
    }, new_st_{}, cur_st_{}, tmp_st_{};
    bool open_stats_fresh_ = false;
    SessionLock lock_;
    bool scanned_ = false;
    std::vector<Msg> msgs_;
    Arena arena_;
    // The descriptor of the message being streamed, kept across PAUSE.
    UniqueFd open_fd_;
    uint32_t open_index_ = UINT32_MAX;
};

} // namespace mailbox_maildir
