// lock_records.hpp - test support for the lock-owner records of the mailbox
// modules' lock files: composes records from the documented format
// (modpop3d-mailbox_mbox(8), modpop3d-mailbox_maildir(8)) independently of
// the modules' own code, and provides owners that are dead, alive, or a
// reused pid.
#pragma once

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace lockrec
{

inline std::string host()
{
    char h[256] = {};
    if (gethostname(h, sizeof h - 1) != 0 || h[0] == '\0')
        return "localhost";
    return h;
}

// slurp - a small /proc file ("" when unreadable).
inline std::string slurp(const std::string &path)
{
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    char buf[2048];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

inline std::string boot()
{
    std::string s = slurp("/proc/sys/kernel/random/boot_id");
    while (!s.empty() && s.back() == '\n')
        s.pop_back();
    return s;
}

// start_of - field 22 of /proc/PID/stat (0 when unreadable).
inline uint64_t start_of(long pid)
{
    std::string s = slurp("/proc/" + std::to_string(pid) + "/stat");
    auto close_paren = s.rfind(')');
    if (close_paren == std::string::npos)
        return 0;
    std::size_t pos = close_paren + 2;
    for (int field = 3; field < 22 && pos != std::string::npos; ++field)
        pos = s.find(' ', pos) + 1;
    return pos == 0 ? 0 : std::strtoull(s.c_str() + pos, nullptr, 10);
}

inline uint64_t pidns()
{
    struct stat st;
    return stat("/proc/self/ns/pid", &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

// record - the two lines of a lock file naming that owner.
inline std::string record(long pid, const std::string &h, const std::string &b, uint64_t start)
{
    return std::to_string(pid) + "\nmodpop3d-lock host=" + h + " boot=" + b +
           " start=" + std::to_string(start) + " pidns=" + std::to_string(pidns()) + "\n";
}

// dead_pid - the pid of a process that has exited and been reaped.
inline long dead_pid()
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    int status = 0;
    waitpid(pid, &status, 0);
    return pid;
}

// Sleeper - a live child process for as long as the object lives.
struct Sleeper {
    pid_t pid = -1;
    Sleeper()
    {
        pid = fork();
        if (pid == 0) {
            for (int i = 0; i < 600; ++i) // bounded: ten minutes at most
                sleep(1);
            _exit(0);
        }
    }
    ~Sleeper()
    {
        if (pid > 0) {
            kill(pid, SIGKILL);
            int status = 0;
            waitpid(pid, &status, 0);
        }
    }
    Sleeper(const Sleeper &) = delete;
    Sleeper &operator=(const Sleeper &) = delete;
};

} // namespace lockrec
