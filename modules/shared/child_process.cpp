// child_process.cpp - helper process control (see child_process.hpp).
#include "child_process.hpp"

#include "sysuser.hpp"

#include <cerrno>
#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace modpop3d::child
{

uint64_t now_us()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

namespace
{

// remaining_ms - poll(2) timeout until the deadline, rounded up; 0 when past.
int remaining_ms(uint64_t deadline_us)
{
    const uint64_t now = now_us();
    if (now >= deadline_us)
        return 0;
    const uint64_t ms = (deadline_us - now + 999) / 1000;
    return ms > 60000 ? 60000 : static_cast<int>(ms);
}

void sleep_ms(long ms)
{
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

// Raw system calls for the identity switch in the child: they act on the
// calling thread only, which after fork() is the only thread, and do not go
// through glibc's all-threads set*id machinery.
#if defined(SYS_setresuid32)
constexpr long sys_setresuid = SYS_setresuid32;
constexpr long sys_setresgid = SYS_setresgid32;
constexpr long sys_setgroups = SYS_setgroups32;
#else
constexpr long sys_setresuid = SYS_setresuid;
constexpr long sys_setresgid = SYS_setresgid;
constexpr long sys_setgroups = SYS_setgroups;
#endif

[[noreturn]] void child_fail()
{
    _exit(127);
}

// child_main - runs in the forked child: async-signal-safe calls only.
[[noreturn]] void child_main(const char *program, char *const argv[], char *const envp[],
                             const int src[4], const Identity &id, int max_fd)
{
    // A clean signal state: the caller's thread may block SIGPIPE, and
    // ignored signals would survive execve.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {
    };
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
        sigaction(sig, &dfl, nullptr);

    // Move the sources out of the way first, so that dup2 onto 0..3 cannot
    // clobber a source that happens to sit there.
    int moved[4];
    for (int i = 0; i < 4; ++i) {
        moved[i] = -1;
        if (src[i] >= 0 && (moved[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 10)) < 0)
            child_fail();
    }
    for (int i = 0; i < 4; ++i) {
        if (moved[i] >= 0 && dup2(moved[i], i) != i)
            child_fail();
    }
    const int first_closed = moved[3] >= 0 ? 4 : 3;
#if defined(SYS_close_range)
    if (syscall(SYS_close_range, first_closed, ~0u, 0) != 0)
#endif
    {
        for (int fd = first_closed; fd < max_fd; ++fd)
            close(fd);
    }

    if (id.switch_ids) {
        const gid_t groups[1] = {id.gid};
        if (syscall(sys_setgroups, 1, groups) != 0 ||
            syscall(sys_setresgid, id.gid, id.gid, id.gid) != 0 ||
            syscall(sys_setresuid, id.uid, id.uid, id.uid) != 0)
            child_fail();
    }
    if (chdir("/") != 0)
        child_fail();
    execve(program, argv, envp);
    child_fail();
}

} // namespace

pid_t spawn(const SpawnSpec &spec, int &err)
{
    // Everything the child needs is built before fork(): it may not allocate.
    std::vector<std::string> strs;
    strs.push_back(spec.program);
    strs.insert(strs.end(), spec.args.begin(), spec.args.end());
    std::vector<char *> argv;
    for (auto &s : strs)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strs = spec.env;
    std::vector<char *> envp;
    for (auto &s : env_strs)
        envp.push_back(s.data());
    envp.push_back(nullptr);

    const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        err = errno;
        return -1;
    }
    const int src[4] = {spec.fd0 >= 0 ? spec.fd0 : devnull, spec.fd1 >= 0 ? spec.fd1 : devnull,
                        devnull, spec.fd3};
    rlimit rl{};
    int max_fd = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        max_fd = rl.rlim_cur > 65536 ? 65536 : static_cast<int>(rl.rlim_cur);

    const pid_t pid = fork();
    if (pid == 0)
        child_main(strs[0].c_str(), argv.data(), envp.data(), src, spec.id, max_fd);
    err = pid < 0 ? errno : 0;
    close(devnull);
    return pid;
}

bool reap_if_exited(pid_t pid)
{
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    return r == pid || (r == -1 && errno == ECHILD);
}

int wait_exit(pid_t pid, uint64_t deadline_us, int &status)
{
    long nap = 1;
    for (;;) {
        const pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return 1;
        if (r == -1 && errno != EINTR)
            return -1;
        if (now_us() >= deadline_us)
            return 0;
        sleep_ms(nap);
        nap = nap < 20 ? nap * 2 : 20;
    }
}

void terminate(pid_t pid, int grace_ms)
{
    if (pid <= 0)
        return;
    int status = 0;
    kill(pid, SIGTERM);
    if (wait_exit(pid, now_us() + static_cast<uint64_t>(grace_ms) * 1000u, status) != 0)
        return;
    kill(pid, SIGKILL);
    (void)wait_exit(pid, now_us() + 5000000u, status);
}

Io write_all(int fd, const char *data, std::size_t len, uint64_t deadline_us)
{
    // A helper that died leaves a pipe without reader: block SIGPIPE for
    // this thread while writing, and swallow the one our write raised.
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigemptyset(&pending);
    sigpending(&pending);
    const bool was_pending = sigismember(&pending, SIGPIPE) == 1;

    Io result = Io::ok;
    std::size_t off = 0;
    while (off < len) {
        const ssize_t n = write(fd, data + off, len - off);
        if (n > 0) {
            off += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EPIPE) {
            result = Io::closed;
            break;
        }
        if (n < 0 && errno != EAGAIN) {
            result = Io::error;
            break;
        }
        const int ms = remaining_ms(deadline_us);
        if (ms == 0) {
            result = Io::timeout;
            break;
        }
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, ms) < 0 && errno != EINTR) {
            result = Io::error;
            break;
        }
    }
    if (result == Io::closed && !was_pending) {
        const timespec zero{0, 0};
        while (sigtimedwait(&pipe_set, nullptr, &zero) == -1 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return result;
}

Io read_some(int fd, char *buf, std::size_t cap, std::size_t &got, uint64_t deadline_us)
{
    got = 0;
    for (;;) {
        const ssize_t n = read(fd, buf, cap);
        if (n > 0) {
            got = static_cast<std::size_t>(n);
            return Io::ok;
        }
        if (n == 0)
            return Io::closed;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return Io::error;
        const int ms = remaining_ms(deadline_us);
        if (ms == 0)
            return Io::timeout;
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, ms) < 0 && errno != EINTR)
            return Io::error;
    }
}

long drain(int fd)
{
    char buf[512];
    long total = 0;
    for (;;) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            total += n;
            if (total > 65536)
                return total;
            continue;
        }
        if (n == 0)
            return -1;
        if (errno == EINTR)
            continue;
        return total; // EAGAIN: nothing more waiting
    }
}

bool resolve_identity(const std::string &user, const std::string &group, Identity &id,
                      std::string &why)
{
    namespace su = modpop3d::sysuser;
    const bool root = geteuid() == 0;
    id = Identity{};
    if (user.empty()) {
        if (root) {
            why = "refusing to run the program as root: set user";
            return false;
        }
        return true;
    }
    su::Account acct;
    int err = 0;
    if (su::user_spec(user, acct, err) != su::Found::yes) {
        why = "unknown user " + su::printable(user);
        return false;
    }
    gid_t gid = acct.gid;
    if (!group.empty() && su::group_spec(group, gid, err) != su::Found::yes) {
        why = "unknown group " + su::printable(group);
        return false;
    }
    if (acct.uid == 0) {
        why = "user is root";
        return false;
    }
    if (!root) {
        if (acct.uid != geteuid() || gid != getegid()) {
            why = "switching to user/group needs a root process";
            return false;
        }
        return true;
    }
    id.switch_ids = true;
    id.uid = acct.uid;
    id.gid = gid;
    return true;
}

RunResult run(const SpawnSpec &spec, int64_t timeout_ms)
{
    RunResult r;
    int err = 0;
    const pid_t pid = spawn(spec, err);
    if (pid < 0) {
        r.kind = RunResult::spawn_failed;
        r.code = err;
        return r;
    }
    int status = 0;
    const uint64_t deadline =
        now_us() + static_cast<uint64_t>(timeout_ms < 0 ? 0 : timeout_ms) * 1000u;
    const int w = wait_exit(pid, deadline, status);
    if (w == 0) {
        terminate(pid, 200);
        r.kind = RunResult::timeout;
        return r;
    }
    if (w < 0) { // someone else reaped it: we cannot know how it ended
        r.kind = RunResult::spawn_failed;
        r.code = ECHILD;
        return r;
    }
    if (WIFEXITED(status)) {
        r.kind = RunResult::exited;
        r.code = WEXITSTATUS(status);
    } else {
        r.kind = RunResult::signalled;
        r.code = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    return r;
}

} // namespace modpop3d::child
