// log.cpp - the structured logger behind log.hpp.
//
// Lines are built whole and written with one write(2) (stderr) or one
// syslog(3) call so that lines from several threads never interleave.
#include "util/log.hpp"

#include <array>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <pthread.h>
#include <syslog.h>
#include <unistd.h>

namespace modpop3d::log
{

namespace
{

struct State {
    Target target = Target::Stderr;
    int max_level = Info;
    std::string ident = "modpop3d";
    std::function<void(int, const std::string &)> sink;
    std::mutex mutex;
};

State &state()
{
    static State s;
    return s;
}

// sanitise - keep a line on one line: control characters become '?'.
std::string sanitise(std::string_view text)
{
    std::string out(text);
    for (char &c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            c = '?';
    return out;
}

} // namespace

namespace
{

int facility_from_name(std::string_view name)
{
    static constexpr std::array<std::pair<std::string_view, int>, 12> names{
        {{"mail", LOG_MAIL},
         {"daemon", LOG_DAEMON},
         {"auth", LOG_AUTH},
         {"authpriv", LOG_AUTHPRIV},
         {"local0", LOG_LOCAL0},
         {"local1", LOG_LOCAL1},
         {"local2", LOG_LOCAL2},
         {"local3", LOG_LOCAL3},
         {"local4", LOG_LOCAL4},
         {"local5", LOG_LOCAL5},
         {"local6", LOG_LOCAL6},
         {"local7", LOG_LOCAL7}}};
    for (const auto &[n, f] : names)
        if (n == name)
            return f;
    return LOG_MAIL;
}

} // namespace

void init(Target target, int level, std::string_view ident, std::string_view facility)
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.target = target;
    s.max_level = level;
    s.ident = std::string(ident);
    if (target == Target::Syslog)
        openlog(s.ident.c_str(), LOG_PID | LOG_NDELAY, facility_from_name(facility));
}

int max_level()
{
    return state().max_level;
}

int level_from_name(std::string_view name)
{
    static constexpr std::array<std::pair<std::string_view, int>, 6> names{{{"err", Err},
                                                                            {"error", Err},
                                                                            {"warning", Warning},
                                                                            {"notice", Notice},
                                                                            {"info", Info},
                                                                            {"debug", Debug}}};
    for (auto &[n, l] : names)
        if (n == name)
            return l;
    return -1;
}

const char *level_name(int level)
{
    switch (level) {
    case Err:
        return "err";
    case Warning:
        return "warning";
    case Notice:
        return "notice";
    case Info:
        return "info";
    case Debug:
        return "debug";
    default:
        return level < Err ? "crit" : "debug";
    }
}

namespace
{

// The pid in each line, asked of the kernel once per process (glibc no
// longer caches getpid()); a fork forgets it in the child.
std::atomic<pid_t> cached_pid{0};

void forget_pid()
{
    cached_pid.store(0, std::memory_order_relaxed);
}

pid_t current_pid()
{
    static const bool registered = pthread_atfork(nullptr, nullptr, forget_pid) == 0;
    pid_t pid = cached_pid.load(std::memory_order_relaxed);
    if (pid == 0 || !registered) {
        pid = getpid();
        cached_pid.store(pid, std::memory_order_relaxed);
    }
    return pid;
}

} // namespace

void write(int level, std::string_view origin, std::string_view text)
{
    State &s = state();
    if (level > s.max_level && !s.sink)
        return;
    std::string line = "level=";
    line += level_name(level);
    if (!origin.empty()) {
        line += " module=";
        line += origin;
    }
    line += ' ';
    line += sanitise(text);

    std::lock_guard lock(s.mutex);
    if (s.sink) {
        s.sink(level, line);
        return;
    }
    if (s.target == Target::Syslog) {
        syslog(level, "%s", line.c_str());
        return;
    }
    char stamp[32];
    std::time_t now = std::time(nullptr);
    struct tm tmv;
    localtime_r(&now, &tmv);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tmv);
    std::string out = std::string(stamp) + ' ' + s.ident + '[' + std::to_string(current_pid()) +
                      "]: " + line + '\n';
    // One write(2) so that concurrent lines never interleave.
    ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());
    (void)ignored;
}

void vwritef(int level, std::string_view origin, const char *fmt, va_list ap)
{
    if (level > state().max_level && !state().sink)
        return;
    std::array<char, 2048> buf;
    va_list copy;
    va_copy(copy, ap);
    int n = std::vsnprintf(buf.data(), buf.size(), fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    if (static_cast<std::size_t>(n) < buf.size()) {
        write(level, origin, std::string_view(buf.data(), static_cast<std::size_t>(n)));
        return;
    }
    std::string big(static_cast<std::size_t>(n) + 1, '\0');
    std::vsnprintf(big.data(), big.size(), fmt, ap);
    big.resize(static_cast<std::size_t>(n));
    write(level, origin, big);
}

void writef(int level, std::string_view origin, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwritef(level, origin, fmt, ap);
    va_end(ap);
}

std::string quote(std::string_view value)
{
    bool plain = !value.empty();
    for (unsigned char c : value)
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '=')
            plain = false;
    if (plain)
        return std::string(value);
    std::string out = "\"";
    for (unsigned char c : value) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
    return out;
}

void set_sink(std::function<void(int level, const std::string &line)> sink)
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.sink = std::move(sink);
}

} // namespace modpop3d::log
