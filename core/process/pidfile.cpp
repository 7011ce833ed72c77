// pidfile.cpp - pid file and detaching (see pidfile.hpp).
#include "process/pidfile.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace modpop3d::daemon
{

namespace
{

// read_pid - the pid a pid file names, or 0.
pid_t read_pid(const std::string &path)
{
    int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[32] = {};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    char *end = nullptr;
    long v = std::strtol(buf, &end, 10);
    if (end == buf || v <= 0 || v > 0x3fffffff || (*end != '\n' && *end != '\0'))
        return 0;
    return static_cast<pid_t>(v);
}

bool alive(pid_t pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

} // namespace

bool PidFile::create(const std::string &path, std::string &why)
{
    for (int attempt = 0; attempt < 2; ++attempt) {
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0) {
            std::string text = std::to_string(getpid()) + "\n";
            bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
            ok = close(fd) == 0 && ok;
            if (!ok) {
                why = "cannot write the pid file " + path + ": " + std::strerror(errno);
                unlink(path.c_str());
                return false;
            }
            path_ = path;
            pid_ = getpid();
            return true;
        }
        if (errno != EEXIST) {
            why = "cannot create the pid file " + path + ": " + std::strerror(errno);
            return false;
        }
        pid_t other = read_pid(path);
        if (other == getpid() || alive(other)) {
            why = "the pid file " + path + " names the running process " + std::to_string(other) +
                  ": is modpop3d already running?";
            return false;
        }
        // Stale (its process is gone) or unreadable garbage: replace it.
        // Only a regular file is removed, never what a symlink points to.
        struct stat st {
        };
        if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
            why = "the pid file " + path + " exists and is not a regular file";
            return false;
        }
        unlink(path.c_str());
    }
    why = "the pid file " + path + " keeps reappearing: is another modpop3d starting?";
    return false;
}

void PidFile::remove()
{
    if (!path_.empty() && pid_ == getpid() && read_pid(path_) == pid_)
        unlink(path_.c_str());
    path_.clear();
}

PidFile::~PidFile()
{
    remove();
}

Detached detach()
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        _exit(1);
    pid_t first = fork();
    if (first < 0)
        _exit(1);
    if (first > 0) {
        // The caller's process: wait for the daemon's word, then leave.
        close(fds[1]);
        char c = 0;
        ssize_t n;
        do
            n = read(fds[0], &c, 1);
        while (n < 0 && errno == EINTR);
        int status = 0;
        waitpid(first, &status, 0); // the intermediate child exits at once
        _exit(n == 1 && c == 'R' ? 0 : 1);
    }
    close(fds[0]);
    setsid();
    pid_t second = fork();
    if (second < 0)
        _exit(1);
    if (second > 0)
        _exit(0); // the session leader leaves: the daemon can never get a tty
    if (chdir("/") != 0)
        _exit(1);
    umask(022);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO)
            close(null);
    }
    return Detached{fds[1]};
}

void detach_done(Detached &d, bool ok)
{
    if (d.report_fd < 0)
        return;
    if (ok) {
        ssize_t ignored = write(d.report_fd, "R", 1);
        (void)ignored;
    }
    close(d.report_fd);
    d.report_fd = -1;
}

} // namespace modpop3d::daemon
