// quota.cpp - maildirsize: append the negative delta line, recalculate when
// Maildir++ says so (see quota.hpp).
#include "quota.hpp"

#include "names.hpp"
#include "unique_fd.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace mailbox_maildir
{
namespace
{

// The file is read only up to this size; a bigger one is recalculated anyway.
constexpr off_t kReadMax = 64 * 1024;
// A maildir holds at most this many folders for the recount (bounded work).
constexpr std::size_t kMaxFolders = 10000;

struct Usage {
    int64_t bytes = 0, count = 0;
};

struct Limits {
    uint64_t bytes = 0, count = 0; // 0: no limit of that kind
};

bool parse_i64(std::string_view s, int64_t &out)
{
    if (s.empty())
        return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

// parse_limits - "10000000S,1000C" (either part may be missing).
bool parse_limits(std::string_view def, Limits &out)
{
    while (!def.empty()) {
        auto comma = def.find(',');
        std::string_view part = def.substr(0, comma);
        def = comma == std::string_view::npos ? std::string_view() : def.substr(comma + 1);
        if (part.size() < 2)
            return false;
        int64_t v = 0;
        if (!parse_i64(part.substr(0, part.size() - 1), v) || v < 0)
            return false;
        if (part.back() == 'S')
            out.bytes = uint64_t(v);
        else if (part.back() == 'C')
            out.count = uint64_t(v);
        else
            return false;
    }
    return true;
}

// parse_lines - sum every "<bytes> <count>" line after the quota line.
bool parse_lines(std::string_view rest, Usage &u)
{
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        if (nl == std::string_view::npos)
            return false; // a line being written, or a torn one
        std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl + 1);
        while (!line.empty() && line.front() == ' ')
            line.remove_prefix(1);
        auto sp = line.find(' ');
        if (sp == std::string_view::npos)
            return false;
        std::string_view b = line.substr(0, sp), c = line.substr(sp + 1);
        while (!c.empty() && c.front() == ' ')
            c.remove_prefix(1);
        int64_t vb = 0, vc = 0;
        if (!parse_i64(b, vb) || !parse_i64(c, vc))
            return false;
        u.bytes += vb;
        u.count += vc;
    }
    return true;
}

// count_dir - add the messages of one new/ or cur/ directory.
void count_dir(int parent, const char *name, Usage &u, int64_t &newest_ns)
{
    int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    DIR *d = ::fdopendir(fd);
    if (d == nullptr) {
        ::close(fd);
        return;
    }
    struct stat dst;
    if (::fstat(fd, &dst) == 0)
        newest_ns =
            std::max(newest_ns, int64_t(dst.st_mtim.tv_sec) * 1000000000 + dst.st_mtim.tv_nsec);
    while (struct dirent *e = ::readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        std::string_view n(e->d_name);
        std::string_view base = n.substr(0, n.find(':'));
        if (auto s = name_field(base, 'S')) {
            u.bytes += int64_t(*s);
            ++u.count;
            continue;
        }
        struct stat st;
        if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
            u.bytes += int64_t(st.st_size);
            ++u.count;
        }
    }
    ::closedir(d);
}

// recount - the maildir and every Maildir++ folder in it.
Usage recount(int dirfd, int64_t &newest_ns)
{
    Usage u;
    count_dir(dirfd, "new", u, newest_ns);
    count_dir(dirfd, "cur", u, newest_ns);
    int fd = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return u;
    DIR *d = ::fdopendir(fd);
    if (d == nullptr) {
        ::close(fd);
        return u;
    }
    ::rewinddir(d);
    std::size_t folders = 0;
    while (struct dirent *e = ::readdir(d)) {
        // Maildir++ folders are ".Name" directories; "." and ".." are not.
        if (e->d_name[0] != '.' || e->d_name[1] == '\0' ||
            (e->d_name[1] == '.' && e->d_name[2] == '\0'))
            continue;
        if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
            continue;
        if (++folders > kMaxFolders)
            break;
        int sub = ::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            continue;
        count_dir(sub, "new", u, newest_ns);
        count_dir(sub, "cur", u, newest_ns);
        ::close(sub);
    }
    ::closedir(d);
    return u;
}

int write_all(int fd, std::string_view s)
{
    while (!s.empty()) {
        ssize_t w = ::write(fd, s.data(), s.size());
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        s.remove_prefix(std::size_t(w));
    }
    return 0;
}

int64_t realtime_ns()
{
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int recalculate(int dirfd, int tmpfd, std::string_view quota_line, const std::string &temp_name)
{
    Usage u;
    // A delivery during the recount may be missed or counted twice; Courier
    // recounts when a directory changed meanwhile. Bounded: at most 3 tries.
    for (int attempt = 0; attempt < 3; ++attempt) {
        const int64_t start = realtime_ns();
        int64_t newest = 0;
        u = recount(dirfd, newest);
        if (newest < start)
            break;
    }
    char line[64];
    int n = std::snprintf(line, sizeof line, "%lld %lld\n", static_cast<long long>(u.bytes),
                          static_cast<long long>(u.count));
    std::string text(quota_line);
    text += '\n';
    text.append(line, std::size_t(n));
    const int wdir = tmpfd >= 0 ? tmpfd : dirfd;
    UniqueFd fd(::openat(wdir, temp_name.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600));
    if (!fd.valid())
        return errno;
    int err = write_all(fd.get(), text);
    if (err == 0 && ::fsync(fd.get()) != 0)
        err = errno;
    if (err == 0 && ::close(fd.release()) != 0)
        err = errno;
    if (err == 0 && ::renameat(wdir, temp_name.c_str(), dirfd, kQuotaName) != 0)
        err = errno;
    if (err != 0) {
        ::unlinkat(wdir, temp_name.c_str(), 0);
        return err;
    }
    return ::fsync(dirfd) == 0 ? 0 : errno;
}

} // namespace

QuotaResult quota_note_deleted(int dirfd, int tmpfd, uid_t uid, uint64_t bytes, uint64_t count,
                               const std::string &temp_name, time_t now)
{
    QuotaResult r;
    if (count == 0)
        return r;
    UniqueFd fd(::openat(dirfd, kQuotaName,
                         O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) {
        r.err = errno == ENOENT ? 0 : errno;
        return r;
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) {
        r.err = errno;
        return r;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != uid || st.st_nlink != 1) {
        r.err = EPERM;
        return r;
    }
    char line[64];
    int n =
        std::snprintf(line, sizeof line, "-%llu -%llu\n", static_cast<unsigned long long>(bytes),
                      static_cast<unsigned long long>(count));
    ssize_t w = ::write(fd.get(), line, std::size_t(n));
    if (w != n) {
        r.err = w < 0 ? errno : EIO;
        return r;
    }
    // The deletion is acknowledged at QUIT: make the line durable with it.
    if (::fsync(fd.get()) != 0) {
        r.err = errno;
        return r;
    }

    const off_t size = st.st_size + n;
    std::string text;
    if (size < kQuotaRecalcBytes) {
        text.resize(std::size_t(size));
        ssize_t got = ::pread(fd.get(), text.data(), text.size(), 0);
        text.resize(got > 0 ? std::size_t(got) : 0);
    } else {
        // Only the quota line is needed.
        text.resize(std::size_t(kReadMax));
        ssize_t got = ::pread(fd.get(), text.data(), text.size(), 0);
        text.resize(got > 0 ? std::size_t(got) : 0);
    }
    std::string_view all(text);
    auto nl = all.find('\n');
    if (nl == std::string_view::npos)
        return r; // no quota line we can keep: leave it to the deliverer
    std::string_view quota_line = all.substr(0, nl);
    Limits lim;
    if (!parse_limits(quota_line, lim))
        return r; // a quota definition we do not understand: do not rewrite it
    Usage u;
    const char *reason = nullptr;
    if (size >= kQuotaRecalcBytes)
        reason = "size";
    else if (!parse_lines(all.substr(nl + 1), u))
        reason = "malformed";
    else if (((lim.bytes > 0 && u.bytes > int64_t(lim.bytes)) ||
              (lim.count > 0 && u.count > int64_t(lim.count))) &&
             now - st.st_mtim.tv_sec > kQuotaStaleSec)
        reason = "stale";
    if (reason == nullptr)
        return r;
    r.err = recalculate(dirfd, tmpfd, quota_line, temp_name);
    r.recalculated = r.err == 0;
    r.reason = reason;
    return r;
}

} // namespace mailbox_maildir
