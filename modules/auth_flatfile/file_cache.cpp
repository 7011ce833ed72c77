// file_cache.cpp - reload-on-change of auth_flatfile's files; see
// file_cache.hpp.
#include "file_cache.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

namespace modpop3d::flatfile
{

namespace
{

bool same_time(const struct timespec &a, const struct timespec &b) noexcept
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// Closes a descriptor on every way out.
struct Fd {
    int fd;
    ~Fd()
    {
        if (fd >= 0)
            close(fd);
    }
};

} // namespace

FileCache::FileCache(uint64_t interval_usec, bool lowercase, bool missing_if_not_regular)
    : interval_usec_(interval_usec), lowercase_(lowercase),
      missing_if_not_regular_(missing_if_not_regular)
{
}

bool FileCache::same_file(const State &s, const struct stat &st) const noexcept
{
    return s.dev == st.st_dev && s.ino == st.st_ino && s.size == st.st_size &&
           same_time(s.mtime, st.st_mtim) && same_time(s.ctime, st.st_ctim);
}

FileCache::Result FileCache::get(const std::string &path, uint64_t now_usec, const Reporter &report)
{
    std::shared_ptr<State> state;
    {
        std::lock_guard<std::mutex> g(map_lock_);
        auto it = files_.find(path);
        if (it == files_.end()) {
            if (files_.size() >= max_files)
                files_.erase(files_.begin());
            it = files_.emplace(path, std::make_shared<State>()).first;
        }
        state = it->second;
    }

    Result r;
    bool forget = false;
    {
        std::lock_guard<std::mutex> g(state->lock);
        State &s = *state;
        if (s.table && now_usec - s.checked_usec < interval_usec_) {
            r.status = Status::ok;
            r.table = s.table;
            return r;
        }
        struct stat st {
        };
        if (stat(path.c_str(), &st) != 0) {
            const int err = errno;
            s.table.reset();
            if (err == ENOENT || err == ENOTDIR) {
                r.status = Status::missing;
                r.error = "no such file";
            } else {
                r.status = Status::error;
                r.error = std::string("stat: ") + std::strerror(err);
            }
        } else if (s.table && same_file(s, st)) {
            s.checked_usec = now_usec;
            r.status = Status::ok;
            r.table = s.table;
            return r;
        } else if (!S_ISREG(st.st_mode) && missing_if_not_regular_) {
            s.table.reset();
            r.status = Status::missing;
            r.error = "not a regular file";
        } else {
            r = load(s, path, now_usec, report);
        }
        if (r.status == Status::ok) {
            s.last_error.clear();
        } else {
            r.first_report = r.error != s.last_error;
            s.last_error = r.error;
        }
        // Keep no state per nonexistent per-domain file: clients choose domains.
        forget = r.status == Status::missing && missing_if_not_regular_;
    }
    if (forget) {
        std::lock_guard<std::mutex> g(map_lock_);
        auto it = files_.find(path);
        if (it != files_.end() && it->second == state)
            files_.erase(it);
    }
    return r;
}

FileCache::Result FileCache::load(State &s, const std::string &path, uint64_t now_usec,
                                  const Reporter &report)
{
    Result r;
    s.table.reset();
    Fd f{open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
    struct stat st {
    };
    if (f.fd < 0 || fstat(f.fd, &st) != 0) {
        r.error = std::string("open: ") + std::strerror(errno);
        return r;
    }
    if (!S_ISREG(st.st_mode)) {
        r.error = "not a regular file";
        return r;
    }
    if ((st.st_mode & S_IWOTH) != 0) {
        r.error = "world-writable, refused (chmod o-w)";
        return r;
    }
    if (st.st_size > max_size) {
        r.error = "larger than " + std::to_string(max_size) + " bytes, refused";
        return r;
    }
    // Read what is there now; if it changes while we read, the next check
    // sees a different mtime/size (taken before reading) and reads it again.
    std::string text;
    std::vector<char> buf(64 * 1024);
    for (;;) {
        const ssize_t n = read(f.fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r.error = std::string("read: ") + std::strerror(errno);
            return r;
        }
        if (n == 0)
            break;
        text.append(buf.data(), static_cast<std::size_t>(n));
        if (text.size() > static_cast<std::size_t>(max_size)) {
            r.error = "grew past " + std::to_string(max_size) + " bytes while read, refused";
            return r;
        }
    }

    std::vector<Problem> problems;
    auto table = std::make_shared<const Table>(parse_passwd(text, lowercase_, problems));
    if (report) {
        for (const auto &p : problems)
            report(path, p.line, p.what);
        report(path, 0, "loaded " + std::to_string(table->users.size()) + " users");
    }
    s.table = table;
    s.checked_usec = now_usec;
    s.dev = st.st_dev;
    s.ino = st.st_ino;
    s.size = st.st_size;
    s.mtime = st.st_mtim;
    s.ctime = st.st_ctim;
    r.status = Status::ok;
    r.table = std::move(table);
    return r;
}

} // namespace modpop3d::flatfile
