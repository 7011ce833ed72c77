// relay_map.cpp - the relay map rewriter (see relay_map.hpp).
#include "relay_map.hpp"

#include "child_process.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace modpop3d::popbsmtp
{

namespace
{

constexpr std::string_view marker = "# popbsmtp ";
constexpr std::string_view header =
    "# modpop3d hook_popbsmtp relay map: rewritten at every POP3 login; do not edit.\n";

// Largest map file we read: 64 MiB is about half a million entries.
constexpr off_t max_file = 64 << 20;

std::string safe_user(std::string_view user)
{
    // The user only lands in a comment, but a newline would end it.
    std::string out;
    for (unsigned char c : user.substr(0, 256))
        out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
    return out;
}

std::string errtext(const char *what, int err)
{
    return std::string(what) + ": " + std::strerror(err);
}

// Lock - an open-file-description lock on the map's lock file, held for
// the whole read-modify-write-build cycle. OFD locks conflict between
// threads of one process as well as between processes.
class Lock
{
  public:
    ~Lock()
    {
        if (fd_ >= 0)
            close(fd_); // releases the lock
    }
    bool take(const std::string &path, int64_t timeout_ms, std::string &why)
    {
        fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd_ < 0) {
            why = errtext(("open " + path).c_str(), errno);
            return false;
        }
        struct flock fl {
        };
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        const uint64_t deadline = child::now_us() + static_cast<uint64_t>(timeout_ms) * 1000u;
        long nap_us = 200;
        for (;;) {
            if (fcntl(fd_, F_OFD_SETLK, &fl) == 0)
                return true;
            if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
                why = errtext(("lock " + path).c_str(), errno);
                return false;
            }
            if (child::now_us() >= deadline) {
                why = "lock " + path + ": still held by another writer after the lock timeout";
                return false;
            }
            timespec ts{0, nap_us * 1000};
            nanosleep(&ts, nullptr);
            nap_us = std::min(nap_us * 2, 20000L);
        }
    }

  private:
    int fd_ = -1;
};

// read_file - the map's text; "" when it does not exist yet.
bool read_file(const std::string &path, std::string &out, bool &exists, std::string &why)
{
    out.clear();
    exists = false;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return true;
        why = errtext(("open " + path).c_str(), errno);
        return false;
    }
    exists = true;
    struct stat st {
    };
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > max_file) {
        why = path + ": not a regular file of a sane size";
        close(fd);
        return false;
    }
    char buf[65536];
    for (;;) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
            if (out.size() > static_cast<std::size_t>(max_file))
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            why = errtext(("read " + path).c_str(), errno);
            close(fd);
            return false;
        }
        break;
    }
    close(fd);
    return true;
}

// replace - write `text` to a temporary file beside `path`, then rename it
// over `path`: readers see the old file or the new one, never a mix.
bool replace(const MapSettings &s, const std::string &text, std::string &why)
{
    std::string tmpl = s.path + ".tmpXXXXXX";
    const int fd = mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd < 0) {
        why = errtext(("create a temporary file beside " + s.path).c_str(), errno);
        return false;
    }
    bool ok = fchmod(fd, s.mode) == 0;
    std::size_t off = 0;
    while (ok && off < text.size()) {
        const ssize_t n = write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = false;
            break;
        }
        off += static_cast<std::size_t>(n);
    }
    // fdatasync: after a crash the renamed file holds the new text, not
    // nothing (the rename may reach the disk before the data otherwise).
    ok = ok && fdatasync(fd) == 0;
    const int err = errno;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmpl.c_str(), s.path.c_str()) == 0)
        return true;
    why = errtext(("write " + s.path).c_str(), ok ? errno : err);
    unlink(tmpl.c_str());
    return false;
}

bool run_command(const MapSettings &s, std::string &why)
{
    if (s.command.empty())
        return true;
    child::SpawnSpec spec;
    spec.program = s.command[0];
    spec.args.assign(s.command.begin() + 1, s.command.end());
    spec.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    const child::RunResult r = child::run(spec, s.command_timeout_ms);
    switch (r.kind) {
    case child::RunResult::exited:
        if (r.code == 0)
            return true;
        why = s.command[0] + " exited with status " + std::to_string(r.code);
        return false;
    case child::RunResult::signalled:
        why = s.command[0] + " was killed by signal " + std::to_string(r.code);
        return false;
    case child::RunResult::timeout:
        why = s.command[0] + " did not finish within the command timeout and was killed";
        return false;
    case child::RunResult::spawn_failed:
        break;
    }
    why = errtext(("start " + s.command[0]).c_str(), r.code);
    return false;
}

// update - the locked read-modify-write cycle shared by record and prune.
Outcome update(const MapSettings &s, const Entry *add, int64_t now, std::string &why, Stats *stats)
{
    Lock lock;
    if (!lock.take(s.path + ".lock", s.lock_timeout_ms, why))
        return Outcome::failed;
    std::string text;
    bool exists = false;
    if (!read_file(s.path, text, exists, why))
        return Outcome::failed;
    std::vector<Entry> entries = parse(text);
    Stats st;
    std::erase_if(entries, [&](const Entry &e) {
        if (e.expires <= now) {
            ++st.dropped;
            return true;
        }
        return add != nullptr && e.addr == add->addr; // refreshed below
    });
    if (add == nullptr && st.dropped == 0 && exists) {
        if (stats)
            *stats = Stats{entries.size(), 0};
        return Outcome::unchanged;
    }
    if (add != nullptr)
        entries.push_back(*add);
    st.kept = entries.size();
    if (stats)
        *stats = st;
    if (!replace(s, render(entries, s), why))
        return Outcome::failed;
    return run_command(s, why) ? Outcome::written : Outcome::command_failed;
}

} // namespace

std::string canonical_addr(std::string_view text)
{
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN)
        return {};
    const std::string t(text);
    char out[INET6_ADDRSTRLEN];
    in_addr v4{};
    if (inet_pton(AF_INET, t.c_str(), &v4) == 1)
        return inet_ntop(AF_INET, &v4, out, sizeof out) ? out : "";
    in6_addr v6{};
    if (inet_pton(AF_INET6, t.c_str(), &v6) != 1)
        return {};
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
        std::memcpy(&v4, v6.s6_addr + 12, 4);
        return inet_ntop(AF_INET, &v4, out, sizeof out) ? out : "";
    }
    return inet_ntop(AF_INET6, &v6, out, sizeof out) ? out : "";
}

std::vector<Entry> parse(std::string_view text)
{
    // Marker lines: "# popbsmtp addr=A expires=N user=U" (user last: it
    // may hold spaces).
    std::vector<Entry> out;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (!line.starts_with(marker))
            continue;
        line.remove_prefix(marker.size());
        if (!line.starts_with("addr="))
            continue;
        line.remove_prefix(5);
        const std::size_t sp = line.find(' ');
        if (sp == std::string_view::npos)
            continue;
        Entry e;
        e.addr = canonical_addr(line.substr(0, sp));
        line.remove_prefix(sp + 1);
        if (e.addr.empty() || !line.starts_with("expires="))
            continue;
        line.remove_prefix(8);
        const char *end = line.data() + line.size();
        auto [p, ec] = std::from_chars(line.data(), end, e.expires);
        if (ec != std::errc() || p == end || *p != ' ')
            continue;
        line.remove_prefix(static_cast<std::size_t>(p - line.data()) + 1);
        if (!line.starts_with("user="))
            continue;
        e.user = safe_user(line.substr(5));
        // The newest record of an address wins (there is one per address).
        std::erase_if(out, [&](const Entry &o) { return o.addr == e.addr; });
        out.push_back(std::move(e));
    }
    return out;
}

std::string render(const std::vector<Entry> &entries, const MapSettings &s)
{
    std::string value = s.value;
    if (value.empty())
        value = s.format == Format::sendmail ? "RELAY" : s.format == Format::exim ? "yes" : "OK";
    std::string out(header);
    for (const Entry &e : entries) {
        out += marker;
        out += "addr=" + e.addr + " expires=" + std::to_string(e.expires) +
               " user=" + safe_user(e.user) + "\n";
        switch (s.format) {
        case Format::postfix:
            out += e.addr + "\t" + value + "\n";
            break;
        case Format::sendmail:
            // access(5) of Sendmail: IPv6 keys carry an "IPv6:" tag.
            out += std::string("Connect:") +
                   (e.addr.find(':') != std::string::npos ? "IPv6:" : "") + e.addr + "\t" + value +
                   "\n";
            break;
        case Format::exim:
            // lsearch: a key with ':' (IPv6) must be quoted; quoting all is fine.
            out += "\"" + e.addr + "\": " + value + "\n";
            break;
        }
    }
    return out;
}

Outcome record(const MapSettings &s, const std::string &addr, const std::string &user, int64_t now,
               int64_t expire_s, std::string &why, Stats *stats)
{
    Entry e;
    e.addr = canonical_addr(addr);
    if (e.addr.empty()) {
        why = "not an IP address";
        return Outcome::failed;
    }
    e.user = user;
    e.expires = now + expire_s;
    // The cheap path for an address that logs in often: it was recorded
    // less than refresh_s ago and nothing has expired, so the map would only
    // change by an expiry time (and the user in a comment; the MTA decides
    // by address alone). Read without the lock:
    // the file is only ever replaced by rename, so this sees a whole file.
    const int64_t refresh = std::min(s.refresh_s, expire_s / 2);
    std::string text;
    bool exists = false;
    std::string ignored;
    if (refresh > 0 && read_file(s.path, text, exists, ignored) && exists) {
        const auto entries = parse(text);
        bool fresh = false, expired = false;
        for (const Entry &o : entries) {
            expired = expired || o.expires <= now;
            fresh = fresh || (o.addr == e.addr && o.expires > e.expires - refresh);
        }
        if (fresh && !expired) {
            if (stats)
                *stats = Stats{entries.size(), 0};
            return Outcome::unchanged;
        }
    }
    return update(s, &e, now, why, stats);
}

Outcome prune(const MapSettings &s, int64_t now, std::string &why, Stats *stats)
{
    return update(s, nullptr, now, why, stats);
}

} // namespace modpop3d::popbsmtp
