// mbox.cpp - open/lock, scan (with the index cache), retrieve, and the
// crash-safe commit of mailbox_mbox.
//
// Commit writes the surviving mailbox to a temporary file in the mbox's own
// directory (same owner and mode), fsyncs it and renames it over the mbox
// while the locks are held, then fsyncs the directory. A crash at any point
// leaves either the old file (the temporary one is removed at the next
// commit) or the complete new one. Why rename and not in-place compaction is
// argued in modpop3d-mailbox_mbox(8), DATA SAFETY.
#include "mbox.hpp"

#include "fault.hpp"
#include "index_cache.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <numeric>
#include <unistd.h>

namespace mbox
{
namespace
{

constexpr std::size_t chunk = 64 * 1024;

std::string dir_of(const std::string &path)
{
    auto slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string &path)
{
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string errstr(const char *what, int e)
{
    return std::string(what) + ": " + std::strerror(e);
}

int32_t open_status(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return MODPOP3D_E_NOENT;
    case ELOOP: // a symlink: refused by O_NOFOLLOW
    case EACCES:
    case EPERM:
    case EISDIR:
    case ENXIO:
        return MODPOP3D_E_PERM;
    case ENOMEM:
        return MODPOP3D_E_NOMEM;
    default:
        return MODPOP3D_E_IO;
    }
}

} // namespace

int32_t Mailbox::open(const Config &cfg, const std::string &path, const std::string &index_path,
                      LogFn log, std::unique_ptr<Mailbox> &out)
{
    std::unique_ptr<Mailbox> mb(new Mailbox());
    mb->cfg_ = cfg;
    mb->path_ = path;
    mb->index_path_ = cfg.index ? index_path : std::string();
    mb->log_ = std::move(log);

    // The file can be replaced (by another session's commit) between open
    // and locking; then the locks we got are on a dead inode: start again.
    // Nothing here sleeps: a busy lock returns MODPOP3D_E_LOCKED at once and
    // the core retries from its event loop.
    for (int attempt = 0; attempt < 5; ++attempt) {
        int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            int e = errno;
            if (e != ENOENT)
                mb->log_(MODPOP3D_LOG_ERR,
                         "event=open_failed path=\"" + path + "\" " + errstr("error", e));
            return open_status(e);
        }
        struct stat st;
        if (fstat(fd, &st) != 0) {
            int e = errno;
            ::close(fd);
            return open_status(e);
        }
        std::string bad;
        if (!S_ISREG(st.st_mode))
            bad = "not a regular file";
        else if (st.st_uid != geteuid())
            bad = "owned by uid " + std::to_string(st.st_uid) + ", not by the session's";
        else if (st.st_nlink != 1)
            bad = "has " + std::to_string(st.st_nlink) + " hard links";
        if (!bad.empty()) {
            ::close(fd);
            mb->log_(MODPOP3D_LOG_ERR,
                     "event=mbox_refused path=\"" + path + "\" reason=\"" + bad + "\"");
            return MODPOP3D_E_PERM;
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        mb->fd_ = fd;
        std::string why, broke;
        LockResult lr = mb->locks_.acquire(path, fd, cfg.locks, why, broke);
        if (!broke.empty())
            mb->log_(MODPOP3D_LOG_WARNING,
                     "event=stale_lock_broken path=\"" + path + ".lock\" reason=\"" + broke + "\"");
        if (lr != LockResult::ok) {
            ::close(fd);
            mb->fd_ = -1;
            // Busy is logged at debug: the core retries open() every few
            // hundred ms while a login waits, and logs the final IN-USE.
            mb->log_(lr == LockResult::busy ? MODPOP3D_LOG_DEBUG : MODPOP3D_LOG_ERR,
                     "event=lock_failed path=\"" + path + "\" reason=\"" + why + "\"");
            if (lr == LockResult::busy)
                return MODPOP3D_E_LOCKED;
            return lr == LockResult::perm ? MODPOP3D_E_PERM : MODPOP3D_E_IO;
        }
        struct stat now;
        if (::lstat(path.c_str(), &now) == 0 && now.st_dev == st.st_dev &&
            now.st_ino == st.st_ino) {
            if (fstat(fd, &mb->st_) != 0)
                mb->st_ = st;
            out = std::move(mb);
            return MODPOP3D_OK;
        }
        mb->locks_.release();
        ::close(fd);
        mb->fd_ = -1;
    }
    mb->log_(MODPOP3D_LOG_ERR, "event=open_failed path=\"" + path + "\" reason=\"keeps changing\"");
    return MODPOP3D_E_TEMP;
}

Mailbox::~Mailbox()
{
    locks_.release();
    if (fd_ >= 0)
        ::close(fd_);
}

int32_t Mailbox::keepalive()
{
    std::string why;
    if (locks_.refresh(why) != LockResult::ok) {
        log_(MODPOP3D_LOG_ERR,
             "event=keepalive_failed path=\"" + path_ + "\" reason=\"" + why + "\"");
        return MODPOP3D_E_IO;
    }
    return MODPOP3D_OK;
}

bool Mailbox::try_cache(const struct stat &st, ScanResult &res, bool &changed)
{
    CacheData c;
    std::string why;
    if (!cache_load(index_path_, c, why)) {
        if (why != "absent")
            log_(MODPOP3D_LOG_INFO,
                 "event=index_ignored path=\"" + index_path_ + "\" reason=\"" + why + "\"");
        return false;
    }
    auto size = static_cast<uint64_t>(st.st_size);
    if (c.dev != static_cast<uint64_t>(st.st_dev) || c.ino != static_cast<uint64_t>(st.st_ino) ||
        c.format != cache_variant() || c.uidl_style != static_cast<uint32_t>(cfg_.uidl) ||
        c.size > size)
        return false;
    uint64_t probe = std::min(c.size, cache_probe);
    if (region_md5(fd_, 0, probe) != c.head || region_md5(fd_, c.size - probe, probe) != c.tail)
        return false;
    if (c.size == size) {
        if (c.mtime_sec != st.st_mtim.tv_sec || c.mtime_nsec != st.st_mtim.tv_nsec)
            return false; // same size, other time: maybe rewritten in place
        res.msgs = std::move(c.msgs);
        res.hidden_end = c.hidden_end;
        res.end = size;
        changed = false;
        return true;
    }
    // The MDA appended: keep every indexed message but the last (whose end
    // may move), and scan from there.
    if (c.msgs.size() < 2)
        return false;
    MsgRec last = c.msgs.back();
    c.msgs.pop_back();
    res.msgs = std::move(c.msgs);
    res.hidden_end = c.hidden_end;
    mbox::scan(fd_, last.from_off, size, res.msgs.size() + 1,
               ScanOptions{cfg_.format, cfg_.uidl, false}, res);
    if (res.not_mbox)
        return false;
    changed = true;
    return true;
}

int32_t Mailbox::scan(uint32_t *count)
{
    if (scanned_) {
        *count = static_cast<uint32_t>(msgs_.size());
        return MODPOP3D_OK;
    }
    try {
        struct stat st;
        if (fstat(fd_, &st) != 0)
            return MODPOP3D_E_IO;
        ScanResult res;
        bool changed = true;
        bool cached = !index_path_.empty() && st.st_size > 0 && try_cache(st, res, changed);
        if (!cached) {
            res = ScanResult{};
            mbox::scan(fd_, 0, static_cast<uint64_t>(st.st_size), 0,
                       ScanOptions{cfg_.format, cfg_.uidl, cfg_.hide_cclient}, res);
            if (res.not_mbox) {
                log_(MODPOP3D_LOG_ERR, "event=not_mbox path=\"" + path_ +
                                           "\" reason=\"text before the first From_ line\"");
                return MODPOP3D_E_CORRUPT;
            }
            res.hidden_end = res.msgs.empty() ? res.end : res.msgs.front().from_off;
        }
        if (res.msgs.size() > UINT32_MAX - 1)
            return MODPOP3D_E_CORRUPT;
        msgs_ = std::move(res.msgs);
        hidden_end_ = res.hidden_end;
        scanned_end_ = res.end;
        st_ = st;
        build_uidls();
        if (changed && !index_path_.empty() && st.st_size > 0)
            save_cache(fd_, st, scanned_end_, hidden_end_, msgs_);
        scanned_ = true;
        *count = static_cast<uint32_t>(msgs_.size());
        return MODPOP3D_OK;
    } catch (const IoError &e) {
        log_(MODPOP3D_LOG_ERR,
             "event=scan_failed path=\"" + path_ + "\" " + errstr(e.what(), e.err));
        return MODPOP3D_E_IO;
    }
}

void Mailbox::save_cache(int fd, const struct stat &st, uint64_t covered, uint64_t hidden_end,
                         const std::vector<MsgRec> &msgs)
{
    try {
        CacheData c;
        c.dev = static_cast<uint64_t>(st.st_dev);
        c.ino = static_cast<uint64_t>(st.st_ino);
        c.size = covered;
        c.mtime_sec = st.st_mtim.tv_sec;
        c.mtime_nsec = st.st_mtim.tv_nsec;
        c.format = cache_variant();
        c.uidl_style = static_cast<uint32_t>(cfg_.uidl);
        uint64_t probe = std::min(covered, cache_probe);
        c.head = region_md5(fd, 0, probe);
        c.tail = region_md5(fd, covered - probe, probe);
        c.hidden_end = hidden_end;
        c.msgs = msgs;
        std::string why;
        if (!cache_save(index_path_, c, why))
            log_(MODPOP3D_LOG_INFO,
                 "event=index_not_saved path=\"" + index_path_ + "\" reason=\"" + why + "\"");
    } catch (const IoError &e) {
        log_(MODPOP3D_LOG_INFO, "event=index_not_saved reason=\"" + std::string(e.what()) + "\"");
    }
}

void Mailbox::build_uidls()
{
    // UIDL = hex digest; later identical copies get "-2", "-3", ... in file
    // order, so UIDLs are unique and deterministic.
    std::vector<uint32_t> order(msgs_.size());
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        int c = std::memcmp(msgs_[a].digest.data(), msgs_[b].digest.data(), 16);
        return c != 0 ? c < 0 : a < b;
    });
    std::vector<uint32_t> dup(msgs_.size(), 1);
    for (std::size_t i = 1; i < order.size(); ++i)
        if (msgs_[order[i]].digest == msgs_[order[i - 1]].digest)
            dup[order[i]] = dup[order[i - 1]] + 1;
    uidl_arena_.clear();
    uidl_arena_.reserve(msgs_.size() * 33);
    uidl_off_.resize(msgs_.size());
    for (std::size_t i = 0; i < msgs_.size(); ++i) {
        uidl_off_[i] = static_cast<uint32_t>(uidl_arena_.size());
        std::string h = md5::hex(msgs_[i].digest);
        if (dup[i] > 1)
            h += "-" + std::to_string(dup[i]);
        uidl_arena_.insert(uidl_arena_.end(), h.begin(), h.end());
        uidl_arena_.push_back('\0');
    }
}

int32_t Mailbox::info(uint32_t index, modpop3d_msg_info *ret) const
{
    if (!scanned_ || index >= msgs_.size() || ret == nullptr)
        return MODPOP3D_E_INVAL;
    const MsgRec &m = msgs_[index];
    ret->flags = 0;
    ret->size = m.size;
    ret->uidl = uidl_arena_.data() + uidl_off_[index];
    ret->received = m.received;
    return MODPOP3D_OK;
}

int32_t Mailbox::retrieve(uint32_t index, uint64_t offset, const modpop3d_sink *sink)
{
    if (!scanned_ || committed_ || index >= msgs_.size() || sink == nullptr ||
        sink->write == nullptr)
        return MODPOP3D_E_INVAL;
    const MsgRec &m = msgs_[index];
    uint64_t raw = m.body_off;
    uint64_t out_off = 0;
    uint64_t skip = offset;
    UnquoteState uq;
    if (cursor_.valid && cursor_.index == index && cursor_.out_off == offset) {
        raw = cursor_.raw_pos;
        out_off = offset;
        skip = 0;
        uq = cursor_.uq;
    }
    cursor_.valid = false;
    if (raw > m.raw_end)
        return MODPOP3D_OK; // resumed after the last chunk had been sent

    rbuf_.resize(chunk);
    obuf_.reserve(chunk + 16);
    auto emit = [&](const char *p, std::size_t n) {
        if (skip >= n) {
            skip -= n;
            return;
        }
        p += skip;
        n -= static_cast<std::size_t>(skip);
        skip = 0;
        obuf_.append(p, n);
    };
    for (;;) {
        obuf_.clear();
        std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(chunk, m.raw_end - raw));
        if (want > 0) {
            ssize_t n = ::pread(fd_, rbuf_.data(), want, static_cast<off_t>(raw));
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                log_(MODPOP3D_LOG_ERR,
                     "event=read_failed path=\"" + path_ + "\" " + errstr("error", errno));
                return MODPOP3D_E_IO;
            }
            if (n == 0)
                return MODPOP3D_E_GONE; // the file shrank under us
            unquote(uq, cfg_.format, rbuf_.data(), static_cast<std::size_t>(n), emit);
            raw += static_cast<uint64_t>(n);
        }
        bool done = raw >= m.raw_end;
        if (done)
            unquote_finish(uq, emit);
        if (!obuf_.empty()) {
            int32_t rc = sink->write(sink->ctx, obuf_.data(), obuf_.size());
            out_off += obuf_.size();
            if (rc < 0)
                return rc;
            if (rc == MODPOP3D_STOP)
                return MODPOP3D_OK;
            if (rc == MODPOP3D_PAUSE) {
                cursor_.valid = true;
                cursor_.index = index;
                cursor_.out_off = out_off;
                cursor_.raw_pos = done ? m.raw_end + 1 : raw; // +1: finished
                cursor_.uq = uq;
                return MODPOP3D_PAUSE;
            }
        }
        if (done)
            return skip > 0 ? MODPOP3D_E_INVAL : MODPOP3D_OK;
    }
}

int32_t Mailbox::commit(const modpop3d_commit *changes)
{
    if (!scanned_ || committed_ || changes == nullptr || changes->count != msgs_.size())
        return MODPOP3D_E_INVAL;
    std::vector<uint8_t> keep(msgs_.size(), 1);
    std::size_t ndel = 0;
    for (std::size_t i = 0; i < msgs_.size(); ++i)
        if (changes->deleted != nullptr && changes->deleted[i]) {
            keep[i] = 0;
            ++ndel;
        }
    committed_ = true;
    cursor_.valid = false;
    if (ndel == 0)
        return MODPOP3D_OK;
    try {
        // Re-check that the file is still the one we scanned (popa3d's rule:
        // if someone truncated or replaced it, change nothing).
        struct stat st, lst;
        if (fstat(fd_, &st) != 0 || ::lstat(path_.c_str(), &lst) != 0 || lst.st_ino != st.st_ino ||
            lst.st_dev != st.st_dev || static_cast<uint64_t>(st.st_size) < scanned_end_) {
            log_(MODPOP3D_LOG_ERR, "event=commit_refused path=\"" + path_ +
                                       "\" reason=\"the mbox changed under the lock\"");
            return MODPOP3D_E_IO;
        }
        for (std::size_t i = 0; i < msgs_.size(); ++i) {
            if (!keep[i])
                continue;
            char head[5];
            if (::pread(fd_, head, 5, static_cast<off_t>(msgs_[i].from_off)) != 5 ||
                std::memcmp(head, "From ", 5) != 0) {
                log_(MODPOP3D_LOG_ERR, "event=commit_refused path=\"" + path_ +
                                           "\" reason=\"message boundaries moved\"");
                return MODPOP3D_E_IO;
            }
        }
        return rewrite(keep, st);
    } catch (const IoError &e) {
        log_(MODPOP3D_LOG_ERR,
             "event=commit_failed path=\"" + path_ + "\" " + errstr(e.what(), e.err));
        return e.err == ENOSPC || e.err == EDQUOT ? MODPOP3D_E_NOSPACE : MODPOP3D_E_IO;
    }
}

int32_t Mailbox::rewrite(const std::vector<uint8_t> &keep, const struct stat &st)
{
    Faults faults;
    const std::string dir = dir_of(path_);
    const std::string tmp = dir + "/." + base_of(path_) + ".modpop3d-new";
    int tfd = -1;
    auto fail = [&](const char *what, int e) -> int32_t {
        if (tfd >= 0)
            ::close(tfd);
        (void)::unlink(tmp.c_str());
        log_(MODPOP3D_LOG_ERR, "event=commit_failed path=\"" + path_ + "\" step=" + what + " " +
                                   errstr("error", e) + " result=unchanged");
        if (e == ENOSPC || e == EDQUOT)
            return MODPOP3D_E_NOSPACE;
        if (e == EACCES || e == EPERM)
            return MODPOP3D_E_PERM;
        return MODPOP3D_E_IO;
    };

    // A leftover from a crashed commit is garbage: the mbox is authoritative.
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT)
        return fail("unlink", errno);
    if (faults.point("create"))
        return fail("create", errno);
    tfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (tfd < 0)
        return fail("create", errno);
    struct stat tst;
    if (fstat(tfd, &tst) != 0)
        return fail("fstat", errno);
    if (tst.st_uid != st.st_uid || tst.st_gid != st.st_gid) {
        if (faults.point("fchown") || fchown(tfd, st.st_uid, st.st_gid) != 0)
            return fail("fchown", errno);
    }
    if (faults.point("fchmod") || fchmod(tfd, st.st_mode & 07777) != 0)
        return fail("fchmod", errno);

    // The ranges to copy: the hidden prefix, the kept messages (each with the
    // separator line that follows it), and whatever lies beyond what scan
    // saw, verbatim.
    struct Range {
        uint64_t from, to;
    };
    std::vector<Range> ranges;
    auto add = [&](uint64_t a, uint64_t b) {
        if (a >= b)
            return;
        if (!ranges.empty() && ranges.back().to == a)
            ranges.back().to = b;
        else
            ranges.push_back({a, b});
    };
    add(0, hidden_end_);
    std::vector<MsgRec> newmsgs;
    uint64_t removed = 0;
    for (std::size_t i = 0; i < msgs_.size(); ++i) {
        uint64_t ext_end = i + 1 < msgs_.size() ? msgs_[i + 1].from_off : scanned_end_;
        if (keep[i]) {
            add(msgs_[i].from_off, ext_end);
            MsgRec r = msgs_[i];
            r.from_off -= removed;
            r.body_off -= removed;
            r.raw_end -= removed;
            newmsgs.push_back(r);
        } else {
            removed += ext_end - msgs_[i].from_off;
        }
    }
    uint64_t covered = scanned_end_ - removed;
    add(scanned_end_, static_cast<uint64_t>(st.st_size));

    std::vector<char> buf(1 << 20);
    for (const auto &rg : ranges) {
        uint64_t pos = rg.from;
        while (pos < rg.to) {
            std::size_t want =
                static_cast<std::size_t>(std::min<uint64_t>(buf.size(), rg.to - pos));
            ssize_t n = ::pread(fd_, buf.data(), want, static_cast<off_t>(pos));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return fail("read", n == 0 ? EIO : errno);
            std::size_t done = 0;
            while (done < static_cast<std::size_t>(n)) {
                if (faults.point("write"))
                    return fail("write", errno);
                ssize_t w = ::write(tfd, buf.data() + done, static_cast<std::size_t>(n) - done);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w < 0)
                    return fail("write", errno);
                done += static_cast<std::size_t>(w);
            }
            pos += static_cast<uint64_t>(n);
        }
    }
    if (faults.point("fsync") || fsync(tfd) != 0)
        return fail("fsync", errno);
    if (faults.point("close")) {
        int e = errno;
        return fail("close", e);
    }
    int rc = ::close(tfd);
    tfd = -1;
    if (rc != 0)
        return fail("close", errno);
    if (faults.point("rename") || ::rename(tmp.c_str(), path_.c_str()) != 0)
        return fail("rename", errno);

    // From here on the new mailbox is in place: report success; later
    // problems only cost durability of the directory entry or the cache.
    log_(MODPOP3D_LOG_INFO, "event=commit path=\"" + path_ +
                                "\" deleted=" + std::to_string(msgs_.size() - newmsgs.size()) +
                                " kept=" + std::to_string(newmsgs.size()));
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (faults.point("dirsync") || dfd < 0 || fsync(dfd) != 0)
        log_(MODPOP3D_LOG_WARNING,
             "event=dirsync_failed path=\"" + dir + "\" " + errstr("error", errno));
    if (dfd >= 0)
        ::close(dfd);

    // Keep holding the MDA's locks on the new file until close().
    (void)faults.point("reopen");
    int nfd = ::open(path_.c_str(), O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (nfd >= 0) {
        std::string why;
        if (locks_.adopt_fd(nfd, why) != LockResult::ok)
            log_(MODPOP3D_LOG_WARNING, "event=relock path=\"" + path_ + "\" note=\"" + why + "\"");
        ::close(fd_);
        fd_ = nfd;
        struct stat nst;
        if (!index_path_.empty() && fstat(fd_, &nst) == 0) {
            (void)faults.point("index");
            if (newmsgs.empty() || covered == 0)
                (void)::unlink(index_path_.c_str());
            else
                save_cache(fd_, nst, covered, hidden_end_, newmsgs);
        }
    }
    return MODPOP3D_OK;
}

} // namespace mbox
