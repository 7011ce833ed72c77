// maildir.cpp - the session object of mailbox_maildir (see maildir.hpp).
#include "maildir.hpp"

#include "dovecot_uidlist.hpp"
#include "names.hpp"
#include "pop3_size.hpp"
#include "quota.hpp"
#include "size_cache.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace mailbox_maildir
{
namespace
{

constexpr std::size_t kChunk = 64 * 1024;

// The read buffer for message bytes: one per thread, not one per open
// maildir. A 64 KiB allocation per login grew the heap at every login and
// trimmed it at every logout. It holds bytes only for the length of one call.
char *chunk_buffer()
{
    thread_local const std::unique_ptr<char[]> buf = std::make_unique_for_overwrite<char[]>(kChunk);
    return buf.get();
}
// tmp/ cleanup does bounded work per login, whatever tmp/ holds.
constexpr std::size_t kTmpMaxExamined = 100000;
constexpr std::size_t kTmpMaxRemoved = 10000;

int64_t mtime_ns(const struct stat &st)
{
    return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// TmpCleanMemo - the tmp/ directories this process has swept in the last
// hour, with their mtime then. A client polling every few minutes would
// otherwise cost a readdir of tmp/ per login; the sweep is skipped while
// tmp/ is unchanged since (nothing created or removed there) and the last
// one is less than an hour old, so a file is removed at most an hour after
// it reaches tmp-max-age. Bounded: forgotten wholesale when full.
class TmpCleanMemo
{
  public:
    static TmpCleanMemo &get()
    {
        static TmpCleanMemo memo;
        return memo;
    }
    bool fresh(const struct stat &dir, time_t now)
    {
        std::lock_guard lock(mutex_);
        auto it = swept_.find(key(dir));
        return it != swept_.end() && it->second.mtime == mtime_ns(dir) &&
               now - it->second.when < kInterval && now >= it->second.when;
    }
    void swept(const struct stat &dir, time_t now)
    {
        std::lock_guard lock(mutex_);
        if (swept_.size() >= kMaxEntries)
            swept_.clear();
        swept_[key(dir)] = Entry{mtime_ns(dir), now};
    }

  private:
    static constexpr time_t kInterval = 3600;
    static constexpr std::size_t kMaxEntries = 65536;
    struct Entry {
        int64_t mtime;
        time_t when;
    };
    static std::pair<dev_t, ino_t> key(const struct stat &st) { return {st.st_dev, st.st_ino}; }
    struct Hash {
        std::size_t operator()(const std::pair<dev_t, ino_t> &k) const
        {
            return std::hash<uint64_t>()(uint64_t(k.first) * 0x9e3779b97f4a7c15ull ^ k.second);
        }
    };
    std::mutex mutex_;
    std::unordered_map<std::pair<dev_t, ino_t>, Entry, Hash> swept_;
};

// DirReader - readdir(3) over a duplicate of a directory descriptor, so the
// original stays usable for *at() calls and the stream always starts at 0.
class DirReader
{
  public:
    explicit DirReader(int fd)
    {
        int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (d >= 0) {
            dir_ = ::fdopendir(d);
            if (dir_ == nullptr)
                ::close(d);
            else
                ::rewinddir(dir_);
        }
    }
    ~DirReader()
    {
        if (dir_ != nullptr)
            ::closedir(dir_);
    }
    DirReader(const DirReader &) = delete;
    DirReader &operator=(const DirReader &) = delete;
    bool ok() const { return dir_ != nullptr; }
    // next - the next entry whose name does not start with '.', or nullptr
    // at the end (errno is then 0) or on error (errno set).
    const struct dirent *next()
    {
        for (;;) {
            errno = 0;
            struct dirent *e = ::readdir(dir_);
            if (e == nullptr)
                return nullptr;
            if (e->d_name[0] != '.')
                return e;
        }
    }

  private:
    DIR *dir_ = nullptr;
};

// rename_noreplace - rename without ever overwriting an existing name;
// falls back to link+unlink where renameat2 flags are unsupported (NFS).
int rename_noreplace(int from_dir, const char *from, int to_dir, const char *to)
{
    if (::renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return errno;
    if (::linkat(from_dir, from, to_dir, to, 0) != 0)
        return errno;
    if (::unlinkat(from_dir, from, 0) != 0 && errno != ENOENT)
        return errno;
    return 0;
}

} // namespace

Maildir::Maildir(const modpop3d_host *host, const modpop3d_ictx *ictx, const Options &opt)
    : host_(host), ictx_(ictx), opt_(opt), uid_(::geteuid())
{
}

Maildir::~Maildir()
{
    close();
}

std::string_view Maildir::info_of(const Msg &m) const
{
    if (!m.has_info)
        return {};
    return {m.name + m.base_len + 1};
}

const char *Maildir::full_name(const Msg &m, char *buf) const
{
    // Called several times per message on a first listing: no printf.
    // set_name() took the name from a directory entry (at most NAME_MAX).
    std::size_t n = std::min<std::size_t>(m.base_len, NAME_MAX);
    std::memcpy(buf, m.name, n);
    if (m.has_info && n < NAME_MAX) {
        const char *info = m.name + m.base_len + 1;
        const std::size_t k = std::min(std::strlen(info), std::size_t(NAME_MAX) - n - 1);
        buf[n++] = ':';
        std::memcpy(buf + n, info, k);
        n += k;
    }
    buf[n] = '\0';
    return buf;
}

void Maildir::set_name(Msg &m, uint8_t dir, std::string_view name)
{
    SplitName s = split_name(name);
    char *p = const_cast<char *>(arena_.dup(name));
    m.base_len = uint16_t(s.base.size());
    m.has_info = s.has_info;
    if (s.has_info)
        p[s.base.size()] = '\0';
    m.name = p;
    m.dir = dir;
}

int32_t Maildir::open_dir(int parent, const char *name, UniqueFd &out, bool &missing,
                          struct stat &st)
{
    missing = false;
    out.reset(::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!out.valid()) {
        if (errno == ENOENT) {
            missing = true;
            return MODPOP3D_E_NOENT;
        }
        int e = errno;
        host_->log(ictx_, MODPOP3D_LOG_WARNING,
                   "event=open_refused maildir=\"%s\" dir=%s reason=\"%s\"", location_.c_str(),
                   name, e == ELOOP || e == ENOTDIR ? "symlink or not a directory" : strerror(e));
        return e == EACCES || e == ELOOP || e == ENOTDIR || e == EPERM ? MODPOP3D_E_PERM
                                                                       : MODPOP3D_E_IO;
    }
    if (::fstat(out.get(), &st) != 0)
        return MODPOP3D_E_IO;
    if (st.st_uid != uid_ || (st.st_mode & S_IWOTH) != 0) {
        host_->log(ictx_, MODPOP3D_LOG_WARNING,
                   "event=open_refused maildir=\"%s\" dir=%s reason=\"owner uid %ld, mode %o; "
                   "session uid %ld\"",
                   location_.c_str(), name, static_cast<long>(st.st_uid),
                   static_cast<unsigned>(st.st_mode & 07777), static_cast<long>(uid_));
        return MODPOP3D_E_PERM;
    }
    return MODPOP3D_OK;
}

int32_t Maildir::open(const char *location)
{
    if (location == nullptr || location[0] != '/') {
        host_->log(ictx_, MODPOP3D_LOG_ERR,
                   "event=open_refused reason=\"maildir location is not an absolute path\"");
        return MODPOP3D_E_PERM;
    }
    location_ = location;
    bool missing = false;
    open_stats_fresh_ = false;
    int32_t st = open_dir(AT_FDCWD, location, dir_fd_, missing, root_st_);
    if (st != MODPOP3D_OK)
        return st;
    bool new_missing = false, cur_missing = false, tmp_missing = false;
    int32_t st_new = open_dir(dir_fd_.get(), "new", new_fd_, new_missing, new_st_);
    if (st_new != MODPOP3D_OK && !new_missing)
        return st_new;
    int32_t st_cur = open_dir(dir_fd_.get(), "cur", cur_fd_, cur_missing, cur_st_);
    if (st_cur != MODPOP3D_OK && !cur_missing)
        return st_cur;
    if (new_missing && cur_missing)
        return MODPOP3D_E_NOENT; // a directory, but not a maildir: try the next spec
    if (new_missing || cur_missing) {
        host_->log(ictx_, MODPOP3D_LOG_ERR, "event=open_failed maildir=\"%s\" reason=\"no %s/\"",
                   location_.c_str(), new_missing ? "new" : "cur");
        return MODPOP3D_E_CORRUPT;
    }
    int32_t st_tmp = open_dir(dir_fd_.get(), "tmp", tmp_fd_, tmp_missing, tmp_st_);
    if (st_tmp != MODPOP3D_OK && !tmp_missing)
        return st_tmp;

    if (opt_.exclusive_lock) {
        std::string broke;
        int err = 0;
        switch (lock_.acquire(dir_fd_.get(), random_hex(), opt_.lock_stale_sec, broke, err)) {
        case SessionLock::Result::taken:
            if (!broke.empty())
                host_->log(ictx_, MODPOP3D_LOG_WARNING,
                           "event=stale_lock_broken maildir=\"%s\" reason=\"%s\"",
                           location_.c_str(), broke.c_str());
            break;
        case SessionLock::Result::busy:
            // Debug: the core retries open() while a login waits.
            host_->log(ictx_, MODPOP3D_LOG_DEBUG, "event=locked maildir=\"%s\"", location_.c_str());
            return MODPOP3D_E_LOCKED;
        case SessionLock::Result::error:
            host_->log(ictx_, MODPOP3D_LOG_ERR, "event=lock_failed maildir=\"%s\" error=\"%s\"",
                       location_.c_str(), strerror(err));
            return err == EACCES || err == EPERM    ? MODPOP3D_E_PERM
                   : err == ENOSPC || err == EDQUOT ? MODPOP3D_E_NOSPACE
                                                    : MODPOP3D_E_TEMP;
        }
    }
    open_stats_fresh_ = true;
    if (opt_.tmp_cleanup && tmp_fd_.valid())
        clean_tmp();
    return MODPOP3D_OK;
}

void Maildir::clean_tmp()
{
    const time_t now = ::time(nullptr);
    struct stat dir = tmp_st_; // open() took it a moment ago
    if (TmpCleanMemo::get().fresh(dir, now))
        return;
    DirReader r(tmp_fd_.get());
    if (!r.ok())
        return;
    const time_t limit = now - time_t(opt_.tmp_max_age_sec);
    std::size_t examined = 0, removed = 0;
    while (const struct dirent *e = r.next()) {
        const char *name = e->d_name;
        if (++examined > kTmpMaxExamined || removed >= kTmpMaxRemoved)
            break;
        struct stat st;
        if (::fstatat(tmp_fd_.get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        // maildir(5): files not accessed for 36 hours. Modification counts as
        // access too, so a file being written now is never removed.
        if (!S_ISREG(st.st_mode) || st.st_uid != uid_ || st.st_atim.tv_sec >= limit ||
            st.st_mtim.tv_sec >= limit)
            continue;
        if (::unlinkat(tmp_fd_.get(), name, 0) == 0)
            ++removed;
    }
    if (removed > 0)
        host_->log(ictx_, MODPOP3D_LOG_INFO, "event=tmp_cleanup maildir=\"%s\" removed=%zu",
                   location_.c_str(), removed);
    // Remembered as swept only when the whole directory was looked at, with
    // its mtime after our own unlinks.
    if (examined <= kTmpMaxExamined && removed < kTmpMaxRemoved &&
        ::fstat(tmp_fd_.get(), &dir) == 0)
        TmpCleanMemo::get().swept(dir, now);
}

int32_t Maildir::list_dir(uint8_t dir, ScanStats &stats, const SizeCache *trusted, bool defer)
{
    DirReader r(dir_fd(dir));
    if (!r.ok())
        return MODPOP3D_E_IO;
    for (;;) {
        const struct dirent *de = r.next();
        if (de == nullptr) {
            if (errno != 0)
                return MODPOP3D_E_IO;
            break;
        }
        if (msgs_.size() >= opt_.max_messages) {
            stats.truncated = true;
            break;
        }
        const char *name = de->d_name;
        // The file type from readdir refuses symlinks and directories
        // without a stat; DT_UNKNOWN (some file systems) falls to the stat.
        if (de->d_type == DT_LNK) {
            ++stats.symlinks;
            continue;
        }
        if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN) {
            ++stats.not_regular;
            continue;
        }
        if (trusted != nullptr && de->d_type == DT_REG) {
            // A base name the cache knows needs no stat (see size_cache.hpp);
            // open_message() still checks type, owner and size at RETR.
            std::string_view full(name);
            if (const CacheEntry *e = trusted->find(full.substr(0, full.find(':')))) {
                Msg m;
                set_name(m, dir, full);
                m.file_size = e->file_size;
                m.mtime_ns = e->mtime_ns;
                m.received = e->received;
                m.size = e->pop3_size;
                m.from_cache = true;
                msgs_.push_back(m);
                continue;
            }
        }
        if (defer && de->d_type == DT_REG) {
            // Its size will be counted, which opens the file: the checks
            // below are made then, on the open file (size_unlisted), and the
            // name is looked up once instead of twice. A name with a ,W=
            // size is only stat'ed, later, with the files to count (both in
            // count_parallel's threads on a big listing).
            Msg m;
            set_name(m, dir, name);
            m.stat_pending = true;
            m.w_pending = opt_.trust_w_size && name_field(split_name(name).base, 'W');
            msgs_.push_back(m);
            continue;
        }
        Msg m;
        set_name(m, dir, name);
        if (stat_listed(m, stats, false))
            msgs_.push_back(m);
    }
    return MODPOP3D_OK;
}

bool Maildir::acceptable_file(const struct stat &st, ScanStats &stats) const
{
    if (!S_ISREG(st.st_mode)) {
        ++stats.not_regular;
        return false;
    }
    if (st.st_uid != uid_) {
        ++stats.foreign;
        return false;
    }
    if (opt_.refuse_hard_links && st.st_nlink != 1) {
        ++stats.hard_links;
        return false;
    }
    return true;
}

bool Maildir::stat_listed(Msg &m, ScanStats &stats, bool deferred)
{
    char name[NAME_MAX + 1];
    struct stat st;
    int r = ::fstatat(dir_fd(m.dir), full_name(m, name), &st, AT_SYMLINK_NOFOLLOW);
    int e = r != 0 ? errno : 0; // relocate() reads directories: errno is not kept
    if (e == ENOENT && deferred && relocate(m)) {
        r = ::fstatat(dir_fd(m.dir), full_name(m, name), &st, AT_SYMLINK_NOFOLLOW);
        e = r != 0 ? errno : 0;
    }
    if (r != 0) {
        if (e != ENOENT)
            ++stats.errors;
        else if (deferred)
            ++stats.vanished;
        // else moved or deleted since readdir, just now
        return false;
    }
    if (S_ISLNK(st.st_mode)) {
        ++stats.symlinks;
        return false;
    }
    if (!acceptable_file(st, stats))
        return false;
    m.file_size = uint64_t(st.st_size);
    m.mtime_ns = mtime_ns(st);
    auto ts = name_timestamp(base_of(m));
    m.received = ts ? *ts : int64_t(st.st_mtim.tv_sec);
    m.stat_pending = false;
    m.w_pending = false;
    return true;
}

bool Maildir::named_size(Msg &m) const
{
    if (!opt_.trust_w_size)
        return false;
    auto w = name_field(base_of(m), 'W');
    if (!w || *w < m.file_size || *w > 2 * m.file_size)
        return false;
    m.size = *w;
    return true;
}

int32_t Maildir::open_message(Msg &m, UniqueFd &out, struct stat &st, bool no_atime)
{
    char name[NAME_MAX + 1];
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    if (no_atime)
        flags |= O_NOATIME;
    for (int attempt = 0; attempt < 2; ++attempt) {
        out.reset(::openat(dir_fd(m.dir), full_name(m, name), flags));
        if (!out.valid() && errno == EPERM && (flags & O_NOATIME) != 0) {
            // O_NOATIME needs the file's owner (checked below anyway).
            flags &= ~O_NOATIME;
            out.reset(::openat(dir_fd(m.dir), name, flags));
        }
        if (out.valid())
            break;
        int e = errno;
        if (e == ENOENT && attempt == 0 && relocate(m))
            continue;
        if (e == ENOENT)
            return MODPOP3D_E_GONE;
        host_->log(ictx_, MODPOP3D_LOG_WARNING,
                   "event=message_refused maildir=\"%s\" file=\"%s/%s\" reason=\"%s\"",
                   location_.c_str(), m.dir == kCur ? "cur" : "new", name,
                   e == ELOOP ? "symlink" : strerror(e));
        return e == ELOOP || e == EACCES || e == EPERM ? MODPOP3D_E_PERM : MODPOP3D_E_IO;
    }
    if (::fstat(out.get(), &st) != 0)
        return MODPOP3D_E_IO;
    if (!S_ISREG(st.st_mode) || st.st_uid != uid_ || (opt_.refuse_hard_links && st.st_nlink != 1)) {
        host_->log(ictx_, MODPOP3D_LOG_WARNING,
                   "event=message_refused maildir=\"%s\" file=\"%s/%s\" reason=\"type, owner "
                   "or link count\"",
                   location_.c_str(), m.dir == kCur ? "cur" : "new", name);
        out.reset();
        return MODPOP3D_E_PERM;
    }
    return MODPOP3D_OK;
}

bool Maildir::relocate(Msg &m)
{
    // Another agent renamed the file (new/ -> cur/, or changed its flags):
    // find the same base name in cur/ or new/.
    std::string_view base = base_of(m);
    for (uint8_t dir : {uint8_t(kCur), uint8_t(kNew)}) {
        DirReader r(dir_fd(dir));
        if (!r.ok())
            continue;
        while (const struct dirent *e = r.next()) {
            const char *name = e->d_name;
            std::string_view n(name);
            if (n.size() >= base.size() && n.compare(0, base.size(), base) == 0 &&
                (n.size() == base.size() || n[base.size()] == ':')) {
                set_name(m, dir, n);
                return true;
            }
        }
    }
    return false;
}

int32_t Maildir::compute_size(Msg &m)
{
    // Counting is not reading the mail: O_NOATIME keeps a first login from
    // dirtying the inode of every message (relatime updates the atime of a
    // file read for the first time since it was changed or linked).
    UniqueFd fd;
    struct stat sb;
    int32_t st = open_message(m, fd, sb, true);
    if (st != MODPOP3D_OK)
        return st;
    return count_size(m, fd.get(), sb);
}

int32_t Maildir::size_unlisted(Msg &m, ScanStats &stats)
{
    // list_dir's checks, on the open file instead of a stat of the name.
    char name[NAME_MAX + 1];
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOATIME;
    UniqueFd fd;
    int e = 0; // the open's errno, kept across relocate()
    for (int attempt = 0; attempt < 2; ++attempt) {
        fd.reset(::openat(dir_fd(m.dir), full_name(m, name), flags));
        if (!fd.valid() && errno == EPERM && (flags & O_NOATIME) != 0) {
            flags &= ~O_NOATIME; // not the owner: refused below anyway
            fd.reset(::openat(dir_fd(m.dir), name, flags));
        }
        if (fd.valid())
            break;
        e = errno;
        if (e != ENOENT || attempt > 0 || !relocate(m))
            break;
    }
    if (!fd.valid()) {
        if (e == ENOENT) { // moved or deleted since readdir, and not found again
            ++stats.vanished;
            return MODPOP3D_E_GONE;
        }
        if (e == ELOOP) { // replaced by a symlink since readdir
            ++stats.symlinks;
            return MODPOP3D_E_PERM;
        }
        ++stats.errors;
        host_->log(ictx_, MODPOP3D_LOG_WARNING,
                   "event=message_refused maildir=\"%s\" file=\"%s/%s\" reason=\"%s\"",
                   location_.c_str(), m.dir == kCur ? "cur" : "new", name, strerror(e));
        return e == EACCES || e == EPERM ? MODPOP3D_E_PERM : MODPOP3D_E_IO;
    }
    struct stat sb;
    if (::fstat(fd.get(), &sb) != 0) {
        ++stats.errors;
        return MODPOP3D_E_IO;
    }
    if (!acceptable_file(sb, stats))
        return MODPOP3D_E_PERM;
    auto ts = name_timestamp(base_of(m));
    m.received = ts ? *ts : int64_t(sb.st_mtim.tv_sec);
    m.stat_pending = false;
    int32_t st = count_size(m, fd.get(), sb);
    if (st != MODPOP3D_OK)
        ++stats.errors;
    return st;
}

int32_t Maildir::count_size(Msg &m, int fd, const struct stat &sb, char *buf) const
{
    if (buf == nullptr)
        buf = chunk_buffer();
    Pop3SizeCounter counter;
    uint64_t total = 0;
    // Up to the size fstat gave, without the read that would return 0: a
    // message file is complete when it is in new/ or cur/. A file that grew
    // after the fstat is read to its end (and not cached: its size differs
    // from the fstat's); one that grows later is caught by retrieve(), which
    // compares the file size with the size counted here.
    for (;;) {
        if (total == uint64_t(sb.st_size))
            break;
        ssize_t n = ::read(fd, buf, kChunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return MODPOP3D_E_IO;
        if (n == 0)
            break;
        counter.feed(buf, std::size_t(n));
        total += uint64_t(n);
    }
    m.size = counter.size();
    // Cache against what was actually read, with the mtime seen at open.
    m.file_size = total;
    m.mtime_ns = total == uint64_t(sb.st_size) ? mtime_ns(sb) : 0;
    m.cacheable_size = total == uint64_t(sb.st_size);
    return MODPOP3D_OK;
}

bool Maildir::count_quick(Msg &m, char *buf) const noexcept
{
    // size_unlisted() and compute_size() without their slow paths: any
    // failure returns false and the serial path does it again, with its
    // relocate(), logging and statistics.
    char name[NAME_MAX + 1];
    full_name(m, name);
    Msg done = m;
    if (done.w_pending) {
        // stat_listed() without its statistics.
        struct stat st;
        if (::fstatat(dir_fd(m.dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != uid_ || (opt_.refuse_hard_links && st.st_nlink != 1))
            return false;
        done.file_size = uint64_t(st.st_size);
        done.mtime_ns = mtime_ns(st);
        auto ts = name_timestamp(base_of(done));
        done.received = ts ? *ts : int64_t(st.st_mtim.tv_sec);
        done.stat_pending = false;
        done.w_pending = false;
        if (named_size(done)) {
            done.named = true;
            done.counted = true;
            m = done;
            return true;
        }
        // An implausible ,W=: counted from the file, as compute_size() does.
    }
    UniqueFd fd(::openat(dir_fd(m.dir), name,
                         O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOATIME));
    if (!fd.valid())
        return false;
    struct stat sb;
    if (::fstat(fd.get(), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != uid_ ||
        (opt_.refuse_hard_links && sb.st_nlink != 1))
        return false;
    if (done.stat_pending) {
        auto ts = name_timestamp(base_of(done));
        done.received = ts ? *ts : int64_t(sb.st_mtim.tv_sec);
        done.stat_pending = false;
    }
    if (count_size(done, fd.get(), sb, buf) != MODPOP3D_OK)
        return false;
    done.counted = true;
    m = done;
    return true;
}

void Maildir::count_parallel(const std::vector<uint32_t> &todo)
{
    // Below this many files per thread, starting a thread costs more than
    // it saves. Threads matter on a first login of a big maildir: its
    // time is opening and reading small files, and with a cold page cache
    // waiting for the disk, which several threads overlap.
    constexpr std::size_t kPerThread = 256;
    constexpr std::size_t kBatch = 64; // messages taken at a time
    const std::size_t threads = std::min<std::size_t>(opt_.size_threads, todo.size() / kPerThread);
    if (threads < 2)
        return;
    std::atomic<std::size_t> next{0};
    auto work = [&](char *buf) noexcept {
        for (;;) {
            const std::size_t b = next.fetch_add(kBatch, std::memory_order_relaxed);
            if (b >= todo.size())
                return;
            const std::size_t e = std::min(todo.size(), b + kBatch);
            for (std::size_t k = b; k < e; ++k)
                count_quick(msgs_[todo[k]], buf);
        }
    };
    // Helpers get no signals (the worker's handlers expect its own thread)
    // and live only inside this call.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    std::vector<std::unique_ptr<char[]>> bufs;
    std::vector<std::thread> helpers;
    try {
        bufs.reserve(threads - 1);
        helpers.reserve(threads - 1);
        for (std::size_t i = 1; i < threads; ++i) {
            bufs.push_back(std::make_unique<char[]>(kChunk));
            helpers.emplace_back(work, bufs.back().get());
        }
    } catch (...) {
        // Fewer helpers (no memory or no threads): this thread does the rest.
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    work(chunk_buffer());
    for (std::thread &t : helpers)
        t.join();
}

std::string Maildir::random_hex()
{
    unsigned char r[8] = {};
    if (host_->random_bytes == nullptr || host_->random_bytes(r, sizeof r) != MODPOP3D_OK) {
        // Uniqueness only (temporary names), not secrecy.
        uint64_t v = uint64_t(::getpid()) << 32 ^ uint64_t(::time(nullptr)) ^
                     reinterpret_cast<uintptr_t>(this);
        std::memcpy(r, &v, sizeof r);
    }
    char hex[17];
    for (int i = 0; i < 8; ++i)
        std::snprintf(hex + 2 * i, 3, "%02x", r[i]);
    return std::string(hex, 16);
}

int32_t Maildir::list_and_size(const SizeCache *trusted, int load_state, const SizeCache &cache,
                               ScanStats &stats)
{
    const auto load = SizeCache::Load(load_state);
    // Without a cache every message without a ,W= size is read: its stat
    // can wait for the open. With a cache, names it does not vouch for are
    // compared with it by size and mtime, which needs the stat first.
    const bool defer = load != SizeCache::Load::loaded;
    int32_t st = list_dir(kNew, stats, trusted, defer);
    if (st == MODPOP3D_OK)
        st = list_dir(kCur, stats, trusted, defer);
    if (st != MODPOP3D_OK)
        return st;

    // A message renamed new/ -> cur/ by another session between the two
    // readdir passes shows up twice: keep one (the cur/ one, its new place).
    auto by_base = [](const Msg &a, const Msg &b) {
        int c = std::strcmp(a.name, b.name);
        return c != 0 ? c < 0 : a.dir > b.dir;
    };
    std::sort(msgs_.begin(), msgs_.end(), by_base);
    msgs_.erase(
        std::unique(msgs_.begin(), msgs_.end(),
                    [](const Msg &a, const Msg &b) { return std::strcmp(a.name, b.name) == 0; }),
        msgs_.end());

    // Sizes from the cache or the name first; what is left must be counted.
    std::vector<uint32_t> todo;
    for (std::size_t i = 0; i < msgs_.size(); ++i) {
        Msg &m = msgs_[i];
        if (m.from_cache) {
            char full[NAME_MAX + 1];
            m.cacheable_size = opt_.size_cache && CacheWriter::cacheable(full_name(m, full));
            ++stats.from_cache;
            continue;
        }
        if (m.stat_pending) {
            todo.push_back(uint32_t(i));
            continue;
        }
        std::string_view base = base_of(m);
        if (named_size(m)) {
            ++stats.from_name;
            // Cached too: the next login then needs no stat for it.
            char full[NAME_MAX + 1];
            m.cacheable_size = opt_.size_cache && CacheWriter::cacheable(full_name(m, full));
            ++stats.computed_or_named;
            continue;
        }
        if (load == SizeCache::Load::loaded) {
            if (const CacheEntry *e = cache.find(base, m.file_size, m.mtime_ns)) {
                m.size = e->pop3_size;
                char full[NAME_MAX + 1];
                m.cacheable_size = opt_.size_cache && CacheWriter::cacheable(full_name(m, full));
                ++stats.from_cache;
                continue;
            }
        }
        todo.push_back(uint32_t(i));
    }

    count_parallel(todo);
    for (uint32_t i : todo) {
        Msg &m = msgs_[i];
        if (!m.counted && m.w_pending) {
            // list_dir's stat, then the size from the name or the file.
            if (!stat_listed(m, stats, true)) {
                m.drop = true;
                continue;
            }
            m.named = named_size(m);
        }
        if (!m.counted && !m.named) {
            // The serial path: renamed files are found again, refusals and
            // errors logged and counted in `stats`.
            const bool pending = m.stat_pending;
            const int32_t cs = pending ? size_unlisted(m, stats) : compute_size(m);
            if (cs == MODPOP3D_E_NOMEM)
                return cs;
            if (cs != MODPOP3D_OK) {
                if (!pending) { // size_unlisted counted it already
                    if (cs == MODPOP3D_E_GONE)
                        ++stats.vanished;
                    else
                        ++stats.errors;
                }
                m.drop = true;
                continue;
            }
        }
        char full[NAME_MAX + 1]; // the name as it is now (a relocate() may have renamed it)
        const bool cacheable = opt_.size_cache && CacheWriter::cacheable(full_name(m, full));
        if (m.named) {
            ++stats.from_name;
            m.cacheable_size = cacheable;
        } else {
            ++stats.computed;
            m.cacheable_size = m.cacheable_size && cacheable;
        }
        ++stats.computed_or_named;
    }
    msgs_.erase(std::remove_if(msgs_.begin(), msgs_.end(), [](const Msg &m) { return m.drop; }),
                msgs_.end());

    // The POP3 order: delivery time, then base name. Stable across sessions
    // because neither changes when a message moves to cur/ or gains flags.
    std::sort(msgs_.begin(), msgs_.end(), [](const Msg &a, const Msg &b) {
        if (a.received != b.received)
            return a.received < b.received;
        return std::strcmp(a.name, b.name) < 0;
    });

    return MODPOP3D_OK;
}

void Maildir::take_snapshot(const SizeCache &cache, ScanStats &stats)
{
    for (const CacheRecord &r : cache.records()) {
        if (msgs_.size() >= opt_.max_messages) {
            stats.truncated = true;
            break;
        }
        Msg m;
        set_name(m, r.dir != 0 ? kCur : kNew, r.name);
        m.size = r.entry.pop3_size;
        m.file_size = r.entry.file_size;
        m.received = r.entry.received;
        m.mtime_ns = r.entry.mtime_ns;
        m.from_cache = true;
        m.cacheable_size = true;
        m.printable = true; // SizeCache::load checked every octet
        msgs_.push_back(m);
    }
    stats.from_cache = msgs_.size();
}

int32_t Maildir::scan(uint32_t *ret_count)
{
    if (scanned_) {
        *ret_count = uint32_t(msgs_.size());
        return MODPOP3D_OK;
    }
    const uint64_t t0 = host_->now_usec != nullptr ? host_->now_usec() : 0;
    ScanStats stats;
    SizeCache cache;
    std::string why;
    SizeCache::Load load = SizeCache::Load::missing;
    DirIdentity here;
    here.w_sizes = opt_.trust_w_size ? 1 : 0;
    DirTimes fresh; // of this listing: mtimes before it begins, its start
    bool identity_ok = current_identity(here, fresh);
    if (opt_.size_cache) {
        load = cache.load(dir_fd_.get(), uid_, why);
        if (load == SizeCache::Load::loaded && cache.identity().w_sizes != here.w_sizes) {
            why = "written with another trust-w-size";
            load = SizeCache::Load::invalid;
        }
        if (load == SizeCache::Load::invalid)
            host_->log(ictx_, MODPOP3D_LOG_WARNING,
                       "event=cache_invalid maildir=\"%s\" reason=\"%s\" action=rebuild",
                       location_.c_str(), why.c_str());
    }
    // Names are trusted without a stat only in the directories the cache was
    // written for, and not when hard links must be refused (that needs the
    // link count of every file).
    const bool trust = load == SizeCache::Load::loaded && identity_ok && cache.identity() == here &&
                       !opt_.refuse_hard_links;
    stats.trusted = trust;
    // Nothing changed since a complete listing: take it from the cache.
    const DirTimes &old_times = cache.times();
    const bool snapshot = trust && old_times.settled() && old_times.new_ns == fresh.new_ns &&
                          old_times.cur_ns == fresh.cur_ns;
    stats.snapshot = snapshot;
    msgs_.reserve(std::min<std::size_t>(opt_.max_messages, cache.size() + 64));
    if (snapshot) {
        take_snapshot(cache, stats);
    } else if (int32_t st = list_and_size(trust ? &cache : nullptr, int(load), cache, stats);
               st != MODPOP3D_OK) {
        msgs_.clear();
        return st;
    }
    // Every listed message is in the cache: the next listing may be a snapshot.
    fresh.complete =
        stats.errors == 0 && stats.vanished == 0 && !stats.truncated &&
        std::all_of(msgs_.begin(), msgs_.end(), [](const Msg &m) { return m.cacheable_size; });

    DovecotUidlist uidlist;
    std::size_t from_uidlist = 0;
    if (opt_.uidl_format == UidlFormat::dovecot && !msgs_.empty())
        load_dovecot_uidlist(uidlist);
    for (Msg &m : msgs_) {
        std::string_view base = base_of(m);
        if (opt_.uidl_format == UidlFormat::dovecot) {
            if (auto u = uidlist.uidl(base)) {
                m.uidl = arena_.dup(*u);
                ++from_uidlist;
                continue;
            }
        }
        if (opt_.uidl_format == UidlFormat::basename &&
            (m.printable ? !base.empty() && base.size() <= 70 : is_uidl_safe(base)))
            m.uidl = m.name; // NUL-terminated base
        else
            m.uidl = arena_.dup(make_uidl(base, opt_.uidl_format));
    }
    if (opt_.uidl_format == UidlFormat::dovecot && !msgs_.empty())
        host_->log(ictx_, MODPOP3D_LOG_INFO,
                   "event=dovecot_uidls maildir=\"%s\" from_uidlist=%zu from_basename=%zu",
                   location_.c_str(), from_uidlist, msgs_.size() - from_uidlist);

    if (opt_.size_cache && !snapshot)
        write_cache(stats, load == SizeCache::Load::loaded ? cache.size() : 0,
                    load != SizeCache::Load::invalid && (load != SizeCache::Load::loaded || trust),
                    here, fresh);

    const uint64_t t1 = host_->now_usec != nullptr ? host_->now_usec() : 0;
    // A routine scan is a debug line (the core logs every login anyway);
    // one that skipped, lost or failed to read anything is worth an info.
    const bool notable = stats.symlinks + stats.not_regular + stats.foreign + stats.hard_links +
                                 stats.errors + stats.vanished >
                             0 ||
                         stats.truncated;
    host_->log(ictx_, notable ? MODPOP3D_LOG_INFO : MODPOP3D_LOG_DEBUG,
               "event=scan maildir=\"%s\" messages=%zu size_from_name=%zu size_from_cache=%zu "
               "size_computed=%zu cache_trusted=%s snapshot=%s vanished=%zu skipped_symlink=%zu "
               "skipped_not_regular=%zu skipped_foreign_owner=%zu skipped_hard_link=%zu "
               "errors=%zu truncated=%s time_us=%llu",
               location_.c_str(), msgs_.size(), stats.from_name, stats.from_cache, stats.computed,
               stats.trusted ? "yes" : "no", stats.snapshot ? "yes" : "no", stats.vanished,
               stats.symlinks, stats.not_regular, stats.foreign, stats.hard_links, stats.errors,
               stats.truncated ? "yes" : "no", static_cast<unsigned long long>(t1 - t0));
    if (stats.symlinks + stats.not_regular + stats.foreign + stats.hard_links > 0)
        host_->log(ictx_, MODPOP3D_LOG_WARNING,
                   "event=files_skipped maildir=\"%s\" count=%zu reason=\"symlink, not a regular "
                   "file, foreign owner or hard link\"",
                   location_.c_str(),
                   stats.symlinks + stats.not_regular + stats.foreign + stats.hard_links);
    if (stats.truncated)
        host_->log(ictx_, MODPOP3D_LOG_WARNING,
                   "event=listing_truncated maildir=\"%s\" max_messages=%llu", location_.c_str(),
                   static_cast<unsigned long long>(opt_.max_messages));
    scanned_ = true;
    *ret_count = uint32_t(msgs_.size());
    return MODPOP3D_OK;
}

void Maildir::check_unchanged(Msg &m, const struct stat &st)
{
    // A message file is never rewritten under the same name by a Maildir
    // agent; if it was anyway, the size we listed (perhaps from the cache,
    // unchecked) is wrong. Serve the bytes as they are, and remove the cache
    // so that the next login recounts every message.
    if (uint64_t(st.st_size) == m.file_size)
        return;
    host_->log(ictx_, MODPOP3D_LOG_WARNING,
               "event=message_changed maildir=\"%s\" file=\"%s\" listed_bytes=%llu "
               "file_bytes=%llu action=drop_cache",
               location_.c_str(), m.name, static_cast<unsigned long long>(m.file_size),
               static_cast<unsigned long long>(st.st_size));
    m.file_size = uint64_t(st.st_size);
    if (opt_.size_cache)
        ::unlinkat(dir_fd_.get(), kCacheName, 0);
}

bool Maildir::current_identity(DirIdentity &out, DirTimes &times)
{
    struct stat root = root_st_, n = new_st_, c = cur_st_;
    if (!open_stats_fresh_ && (::fstat(dir_fd_.get(), &root) != 0 ||
                               ::fstat(new_fd_.get(), &n) != 0 || ::fstat(cur_fd_.get(), &c) != 0))
        return false;
    open_stats_fresh_ = false;
    out = DirIdentity{uint64_t(root.st_dev), uint64_t(root.st_ino), uint64_t(n.st_ino),
                      uint64_t(c.st_ino), opt_.trust_w_size ? 1u : 0u};
    // The mtimes are taken before the listing starts, the start after them:
    // a change during the listing leaves a newer mtime than the one kept.
    times.new_ns = mtime_ns(n);
    times.cur_ns = mtime_ns(c);
    struct timespec now;
    ::clock_gettime(CLOCK_REALTIME, &now);
    times.listed_at_ns = int64_t(now.tv_sec) * 1000000000 + now.tv_nsec;
    return true;
}

void Maildir::load_dovecot_uidlist(DovecotUidlist &out)
{
    auto ignore = [&](const char *reason) {
        host_->log(ictx_, MODPOP3D_LOG_WARNING,
                   "event=dovecot_uidlist_ignored maildir=\"%s\" reason=\"%s\" "
                   "action=basename_uidls",
                   location_.c_str(), reason);
        out.by_base.clear();
    };
    UniqueFd fd(::openat(dir_fd_.get(), kDovecotUidlistName,
                         O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) {
        if (errno != ENOENT)
            ignore(errno == ELOOP ? "symlink" : strerror(errno));
        return;
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0)
        return ignore(strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_uid != uid_)
        return ignore("not a regular file owned by the session uid");
    if (uint64_t(st.st_size) > kDovecotUidlistMax)
        return ignore("too large");
    std::string text;
    text.resize(std::size_t(st.st_size));
    std::size_t got = 0;
    while (got < text.size()) {
        ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ignore(strerror(errno));
        if (n == 0)
            break;
        got += std::size_t(n);
    }
    text.resize(got);
    std::string why;
    if (!out.parse(text, why))
        ignore(why.c_str());
}

void Maildir::write_cache(const ScanStats &stats, std::size_t cache_entries, bool cache_ok,
                          const DirIdentity &here, const DirTimes &fresh)
{
    // Rewrite only when something changed: new sizes, stale records to prune,
    // a damaged file (or one written for other directories) to replace, or
    // a listing that the next login may take as a snapshot.
    bool dirty = stats.computed_or_named > 0 || stats.from_cache != cache_entries || !cache_ok ||
                 fresh.settled();
    if (!dirty)
        return;
    CacheWriter w(here, fresh);
    char full[NAME_MAX + 1];
    for (const Msg &m : msgs_)
        if (m.cacheable_size)
            w.add(full_name(m, full), m.dir,
                  CacheEntry{m.size, m.file_size, m.received, m.mtime_ns});
    if (w.records() == 0 && cache_entries == 0 && cache_ok) {
        // Nothing to remember and nothing to prune: do not create a file.
        struct stat st;
        if (::fstatat(dir_fd_.get(), kCacheName, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return;
    }
    std::string temp =
        std::string(kCacheName) + "." + std::to_string(::getpid()) + "." + random_hex();
    int err = w.commit(dir_fd_.get(), tmp_fd_.get(), temp);
    if (err != 0)
        host_->log(ictx_, MODPOP3D_LOG_WARNING,
                   "event=cache_write_failed maildir=\"%s\" error=\"%s\"", location_.c_str(),
                   strerror(err));
}

int32_t Maildir::info(uint32_t index, modpop3d_msg_info *ret) const
{
    if (!scanned_ || index >= msgs_.size() || ret == nullptr)
        return MODPOP3D_E_INVAL;
    const Msg &m = msgs_[index];
    // Fill only the members the core's struct has (it sets struct_size).
    auto fits = [ret](std::size_t end) { return ret->struct_size >= end; };
    if (fits(offsetof(modpop3d_msg_info, flags) + sizeof ret->flags))
        ret->flags = m.dir == kCur && is_seen(info_of(m), m.has_info) ? MODPOP3D_MSG_SEEN : 0;
    if (fits(offsetof(modpop3d_msg_info, size) + sizeof ret->size))
        ret->size = m.size;
    if (fits(offsetof(modpop3d_msg_info, uidl) + sizeof ret->uidl))
        ret->uidl = m.uidl;
    if (fits(offsetof(modpop3d_msg_info, received) + sizeof ret->received))
        ret->received = m.received;
    return MODPOP3D_OK;
}

int32_t Maildir::retrieve(uint32_t index, uint64_t offset, const modpop3d_sink *sink)
{
    if (!scanned_ || index >= msgs_.size() || sink == nullptr || sink->write == nullptr)
        return MODPOP3D_E_INVAL;
    if (open_index_ != index || !open_fd_.valid()) {
        open_fd_.reset();
        open_index_ = UINT32_MAX;
        struct stat sb;
        int32_t st = open_message(msgs_[index], open_fd_, sb, false);
        if (st != MODPOP3D_OK)
            return st;
        open_index_ = index;
        check_unchanged(msgs_[index], sb);
    }
    auto finish = [this](int32_t status) {
        open_fd_.reset();
        open_index_ = UINT32_MAX;
        return status;
    };
    // Up to the size the open's fstat gave (check_unchanged made file_size
    // that size), without the read that would return 0: a message file is
    // complete once it is in new/ or cur/.
    const uint64_t end = msgs_[index].file_size;
    char *const buf = chunk_buffer();
    uint64_t pos = offset;
    for (;;) {
        if (pos >= end)
            return finish(MODPOP3D_OK);
        ssize_t n = ::pread(open_fd_.get(), buf, std::min<uint64_t>(kChunk, end - pos), off_t(pos));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return finish(MODPOP3D_E_IO);
        if (n == 0)
            return finish(MODPOP3D_OK); // shorter than at the open
        pos += uint64_t(n);
        int32_t r = sink->write(sink->ctx, buf, std::size_t(n));
        if (r == MODPOP3D_PAUSE)
            return MODPOP3D_PAUSE; // keep the descriptor for the resumption
        if (r == MODPOP3D_STOP)
            return finish(MODPOP3D_OK);
        if (r < 0)
            return finish(r);
        // MODPOP3D_OK, or an unknown positive value (treated as OK).
    }
}

bool Maildir::move_to_cur(Msg &m, int &err, int &touched)
{
    err = 0;
    touched = -1;
    std::string_view base = base_of(m);
    std::optional<std::string> info = info_with_seen(info_of(m), m.has_info);
    if (m.dir == kCur && !info)
        return true; // already seen, or an info kind we leave alone
    std::string target(base);
    if (info) {
        target += ':';
        target += *info;
    } else if (m.has_info) {
        target += ':';
        target += info_of(m);
    }
    if (target.size() > NAME_MAX) {
        err = ENAMETOOLONG;
        return false;
    }
    char from[NAME_MAX + 1];
    full_name(m, from);
    const uint8_t old_dir = m.dir;
    err = rename_noreplace(dir_fd(m.dir), from, cur_fd_.get(), target.c_str());
    if (err == 0) {
        touched = old_dir;
        set_name(m, kCur, target);
    }
    return err == 0;
}

int32_t Maildir::commit(const modpop3d_commit *changes)
{
    if (!scanned_ || changes == nullptr || changes->count != msgs_.size() ||
        (changes->count > 0 && (changes->deleted == nullptr || changes->retrieved == nullptr)))
        return MODPOP3D_E_INVAL;
    open_fd_.reset();
    open_index_ = UINT32_MAX;
    char name[NAME_MAX + 1];
    uint64_t del_bytes = 0, del_count = 0, moved = 0;
    std::size_t failures = 0;
    bool touched_new = false, touched_cur = false;
    for (uint32_t i = 0; i < changes->count; ++i) {
        Msg &m = msgs_[i];
        if (changes->deleted[i]) {
            int rc = ::unlinkat(dir_fd(m.dir), full_name(m, name), 0);
            int e = rc == 0 ? 0 : errno;
            if (e == ENOENT && relocate(m)) {
                rc = ::unlinkat(dir_fd(m.dir), full_name(m, name), 0);
                e = rc == 0 ? 0 : errno;
            }
            if (rc == 0) {
                (m.dir == kCur ? touched_cur : touched_new) = true;
                // Maildir++ counts the size deliverers added: ,S= or the file size.
                auto s = name_field(base_of(m), 'S');
                del_bytes += s ? *s : m.file_size;
                ++del_count;
            } else if (e != ENOENT) { // ENOENT: deleted by someone else, fine
                ++failures;
                host_->log(ictx_, MODPOP3D_LOG_ERR,
                           "event=delete_failed maildir=\"%s\" file=\"%s/%s\" error=\"%s\"",
                           location_.c_str(), m.dir == kCur ? "cur" : "new", name, strerror(e));
            }
            continue;
        }
        if (changes->retrieved[i] && opt_.mark_seen) {
            int err = 0, from = -1;
            auto note = [&] {
                ++moved;
                if (from >= 0) { // a rename: cur/ gained a name, `from` lost one
                    touched_cur = true;
                    (from == kCur ? touched_cur : touched_new) = true;
                }
            };
            if (move_to_cur(m, err, from)) {
                note();
                continue;
            }
            if (err == ENOENT && relocate(m) && move_to_cur(m, err, from)) {
                note();
                continue;
            }
            // Not fatal: the message stays where it is, unseen.
            if (err != ENOENT)
                host_->log(ictx_, MODPOP3D_LOG_WARNING,
                           "event=mark_seen_failed maildir=\"%s\" file=\"%s\" error=\"%s\"",
                           location_.c_str(), m.name, strerror(err));
        }
    }
    // Make the unlinks and renames durable before QUIT is acknowledged: a
    // crash after +OK must not bring deleted mail back or lose a move.
    int serr = 0;
    if (touched_cur && ::fsync(cur_fd_.get()) != 0)
        serr = errno;
    if (touched_new && ::fsync(new_fd_.get()) != 0 && serr == 0)
        serr = errno;
    if (serr != 0) {
        ++failures;
        host_->log(ictx_, MODPOP3D_LOG_ERR, "event=sync_failed maildir=\"%s\" error=\"%s\"",
                   location_.c_str(), strerror(serr));
    }
    QuotaResult q = quota_note_deleted(
        dir_fd_.get(), tmp_fd_.valid() ? tmp_fd_.get() : -1, uid_, del_bytes, del_count,
        std::string(kQuotaName) + "." + std::to_string(::getpid()) + "." + random_hex(),
        ::time(nullptr));
    if (q.err != 0)
        host_->log(ictx_, MODPOP3D_LOG_WARNING,
                   "event=maildirsize_update_failed maildir=\"%s\" error=\"%s\"", location_.c_str(),
                   strerror(q.err));
    else if (q.recalculated)
        host_->log(ictx_, MODPOP3D_LOG_INFO,
                   "event=maildirsize_recalculated maildir=\"%s\" reason=%s", location_.c_str(),
                   q.reason);
    // The core's logout line counts the deletions; this one matters when
    // some failed.
    host_->log(ictx_, failures > 0 ? MODPOP3D_LOG_WARNING : MODPOP3D_LOG_DEBUG,
               "event=commit maildir=\"%s\" deleted=%llu deleted_bytes=%llu marked_seen=%llu "
               "failures=%zu",
               location_.c_str(), static_cast<unsigned long long>(del_count),
               static_cast<unsigned long long>(del_bytes), static_cast<unsigned long long>(moved),
               failures);
    // Maildir deletions are independent unlinks: those that failed are simply
    // still there (downloaded again at worst), never half-applied messages.
    return failures > 0 ? MODPOP3D_E_IO : MODPOP3D_OK;
}

int32_t Maildir::keepalive()
{
    if (!lock_.held())
        return MODPOP3D_OK;
    if (lock_.refresh())
        return MODPOP3D_OK;
    host_->log(ictx_, MODPOP3D_LOG_ERR, "event=lock_lost maildir=\"%s\"", location_.c_str());
    return MODPOP3D_E_LOCKED;
}

void Maildir::close()
{
    open_fd_.reset();
    lock_.release();
    tmp_fd_.reset();
    cur_fd_.reset();
    new_fd_.reset();
    dir_fd_.reset();
}

} // namespace mailbox_maildir
