// lock_owner.cpp - the owner record of modpop3d's lock files (see
// lock_owner.hpp): writing it, parsing it, and judging whether its process
// still runs. Compiled into each mailbox module that takes lock files.
#include "lock_owner.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace modpop3d::lockowner
{
namespace
{

constexpr const char *kTag = "modpop3d-lock";

// read_small - the first bytes of a /proc file ("" when unreadable).
std::string read_small(const char *path)
{
    int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return {};
    char buf[1024];
    ssize_t n;
    do
        n = ::read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    ::close(fd);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// token - keep a value usable as one word of the record.
std::string token(const std::string &s)
{
    std::string out;
    for (char c : s)
        if (c > 0x20 && c < 0x7f && c != '=')
            out += c;
    return out;
}

std::string host_name()
{
    char h[256] = {};
    if (::gethostname(h, sizeof h - 1) != 0 || h[0] == '\0')
        return "localhost";
    return token(h);
}

uint64_t pid_namespace()
{
    struct stat st;
    if (::stat("/proc/self/ns/pid", &st) != 0)
        return 0;
    return static_cast<uint64_t>(st.st_ino);
}

bool parse_u64(const std::string &s, uint64_t &out)
{
    if (s.empty() || s.size() > 20)
        return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    out = v;
    return true;
}

} // namespace

std::string boot_id()
{
    // It cannot change while we run; reading it once is enough.
    static const std::string id = [] {
        std::string s = read_small("/proc/sys/kernel/random/boot_id");
        while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
            s.pop_back();
        return token(s);
    }();
    return id;
}

namespace
{

// proc_stat - the state letter (field 3), thread count (field 20) and start
// time (field 22) of a process from /proc/PID/stat; false when it cannot be
// read.
bool proc_stat(long pid, char &state, uint64_t &threads, uint64_t &start)
{
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    std::string s = read_small(path);
    // Field 2 (comm) is in parentheses and may hold spaces and ')': count
    // the fields after the last ')'.
    auto close = s.rfind(')');
    if (close == std::string::npos)
        return false;
    std::size_t pos = close + 1;
    for (int field = 3; field <= 22; ++field) {
        while (pos < s.size() && s[pos] == ' ')
            ++pos;
        std::size_t end = s.find(' ', pos);
        if (end == std::string::npos)
            end = s.size();
        if (field == 3)
            state = end > pos ? s[pos] : '?';
        if (field == 20 && !parse_u64(s.substr(pos, end - pos), threads))
            return false;
        if (field == 22)
            return parse_u64(s.substr(pos, end - pos), start);
        pos = end;
    }
    return false;
}

} // namespace

uint64_t start_time(long pid)
{
    char state = 0;
    uint64_t threads = 0, start = 0;
    return proc_stat(pid, state, threads, start) ? start : 0;
}

Owner self()
{
    Owner o;
    o.pid = static_cast<long>(::getpid());
    o.host = host_name();
    o.boot = boot_id();
    o.start = start_time(o.pid);
    o.pidns = pid_namespace();
    o.ours = true;
    return o;
}

std::string text(const Owner &o)
{
    std::string t = std::to_string(o.pid) + "\n" + kTag + " host=" + token(o.host);
    if (!o.boot.empty())
        t += " boot=" + o.boot;
    t += " start=" + std::to_string(o.start) + " pidns=" + std::to_string(o.pidns) + "\n";
    return t;
}

Owner parse(const char *data, std::size_t n)
{
    Owner o;
    std::string s(data, n);
    auto nl = s.find('\n');
    if (nl == std::string::npos)
        nl = s.size();
    uint64_t pid = 0;
    std::string first = s.substr(0, nl);
    while (!first.empty() && (first.front() == ' ' || first.front() == '\t'))
        first.erase(0, 1);
    while (!first.empty() && (first.back() == ' ' || first.back() == '\r'))
        first.pop_back();
    if (!parse_u64(first, pid) || pid == 0 || pid > 0x7fffffff)
        return o;
    o.pid = static_cast<long>(pid);
    if (nl >= s.size())
        return o;
    std::string second = s.substr(nl + 1);
    auto end = second.find('\n');
    if (end == std::string::npos)
        return o; // a record is complete only with its final newline
    second.resize(end);
    std::size_t pos = 0;
    std::string word;
    bool tagged = false, has_host = false;
    while (pos <= second.size()) {
        std::size_t sp = second.find(' ', pos);
        if (sp == std::string::npos)
            sp = second.size();
        word = second.substr(pos, sp - pos);
        pos = sp + 1;
        if (word.empty())
            continue;
        if (!tagged) {
            if (word != kTag)
                return o;
            tagged = true;
            continue;
        }
        auto eq = word.find('=');
        if (eq == std::string::npos)
            continue;
        std::string k = word.substr(0, eq), v = word.substr(eq + 1);
        if (k == "host") {
            o.host = v;
            has_host = !v.empty();
        } else if (k == "boot") {
            o.boot = v;
        } else if (k == "start") {
            (void)parse_u64(v, o.start);
        } else if (k == "pidns") {
            (void)parse_u64(v, o.pidns);
        }
    }
    o.ours = tagged && has_host;
    return o;
}

Verdict judge(const Owner &o, std::string &why)
{
    if (!o.ours) {
        why = o.pid > 0 ? "foreign lock naming pid " + std::to_string(o.pid)
                        : "foreign lock without an owner record";
        return Verdict::unknown;
    }
    std::string pid = std::to_string(o.pid);
    if (o.host != host_name()) {
        why = "owner pid " + pid + " on host " + o.host;
        return Verdict::unknown;
    }
    std::string boot = boot_id();
    if (boot.empty() || o.boot.empty()) {
        why = "owner pid " + pid + ", boot id unknown";
        return Verdict::unknown;
    }
    if (o.boot != boot) {
        why = "owner pid " + pid + " ran in an earlier boot of this host";
        return Verdict::dead;
    }
    uint64_t ns = pid_namespace();
    if (o.pidns != 0 && ns != 0 && o.pidns != ns) {
        why = "owner pid " + pid + " in another pid namespace";
        return Verdict::unknown;
    }
    if (::kill(static_cast<pid_t>(o.pid), 0) != 0 && errno == ESRCH) {
        why = "owner pid " + pid + " no longer exists";
        return Verdict::dead;
    }
    // The pid exists (kill succeeded, or EPERM: another user's process).
    char state = 0;
    uint64_t threads = 0, now = 0;
    if (!proc_stat(o.pid, state, threads, now)) {
        why = "owner pid " + pid + " exists";
        return Verdict::alive; // /proc hidden from us: assume the worst
    }
    if ((state == 'Z' || state == 'X') && threads <= 1) {
        // Killed, not yet reaped by its parent: it holds nothing any more.
        // (A main thread that exited alone also shows 'Z', but its process
        // still counts its other threads.)
        why = "owner pid " + pid + " has exited";
        return Verdict::dead;
    }
    if (o.start != 0 && now != o.start) {
        why = "owner pid " + pid + " was reused by a process started later";
        return Verdict::dead;
    }
    why = "owner pid " + pid + " is running";
    return Verdict::alive;
}

Verdict judge_fd(int fd, Owner &o, std::string &why)
{
    char buf[1024];
    ssize_t n;
    do
        n = ::pread(fd, buf, sizeof buf, 0);
    while (n < 0 && errno == EINTR);
    o = parse(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    return judge(o, why);
}

} // namespace modpop3d::lockowner
