// pool.cpp - the spawner process and the helper pool (see pool.hpp).
#include "pool.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <map>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace modpop3d::auth_perl
{

namespace
{

// How long a retired helper may spend in `finish` before SIGKILL, and how
// long the spawner's children get when the pool stops.
constexpr uint64_t retire_grace_us = 3000000;
constexpr uint64_t stop_grace_us = 1000000;
// Longest wait for the spawner's answer (it only forks).
constexpr uint64_t control_timeout_us = 5000000;
// How often a failed start code is tried again.
constexpr uint64_t start_retry_us = 5000000;

// Control messages, auth process -> spawner.
struct Request {
    char op;   // 'S' spawn, 'K' kill now, 'R' retire (kill after a grace)
    pid_t pid; // K, R
};
// Spawner -> auth process, answering 'S'; the helper's socket rides along.
struct Answer {
    pid_t pid; // -1: fork failed
    int err;
};

void replace_all(std::string &s, const std::string &what, const char *with)
{
    if (what.empty())
        return;
    for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at))
        s.replace(at, what.size(), with);
}

int level_number(const std::string *name)
{
    if (name == nullptr)
        return 6;
    if (*name == "err")
        return 3;
    if (*name == "warning")
        return 4;
    if (*name == "notice")
        return 5;
    if (*name == "debug")
        return 7;
    return 6;
}

// spawner_main - the spawner process (see pool.hpp). Never returns.
[[noreturn]] void spawner_main(int ctl, const PoolOptions &opt)
{
    // Load the script once: every helper is a fork of this interpreter, so
    // a running generation never re-reads the file (only a reload does,
    // after `modpop3d -t`'s checks), and a fresh helper costs one fork.
    std::string err;
    const bool loaded = load(opt.script, err);
    const std::string hello = loaded ? std::string("O") : "F" + err.substr(0, 8000);
    (void)send(ctl, hello.data(), hello.size(), MSG_NOSIGNAL);
    if (!loaded)
        _exit(1);
    const pid_t self = getpid();
    std::map<pid_t, uint64_t> kids; // pid -> SIGKILL due (0: none)
    bool closing = false;
    for (;;) {
        int status = 0;
        for (pid_t p; (p = waitpid(-1, &status, WNOHANG)) > 0;)
            kids.erase(p);
        const uint64_t now = now_us();
        for (auto &[pid, due] : kids)
            if (due != 0 && now >= due) {
                kill(pid, SIGKILL);
                due = 0;
            }
        if (closing && kids.empty())
            _exit(0);
        pollfd p{ctl, POLLIN, 0};
        if (closing || poll(&p, 1, 20) <= 0) {
            if (closing) {
                timespec ts{0, 20 * 1000 * 1000};
                nanosleep(&ts, nullptr);
            }
            continue;
        }
        Request req{};
        const ssize_t n = recv(ctl, &req, sizeof req, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            // The auth process closed the pool: its helpers saw end of file
            // and run `finish`; give them a moment, then kill the rest.
            closing = true;
            for (auto &[pid, due] : kids)
                if (due == 0 || due > now + stop_grace_us)
                    due = now + stop_grace_us;
            continue;
        }
        if (req.op == 'K' || req.op == 'R') {
            auto it = kids.find(req.pid);
            if (it != kids.end()) {
                if (req.op == 'K')
                    kill(req.pid, SIGKILL);
                else
                    it->second = now + retire_grace_us;
            }
            continue;
        }
        Answer a{-1, 0};
        int sv[2] = {-1, -1};
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            a.err = errno;
        } else {
            const pid_t pid = fork();
            if (pid == 0) {
                close(ctl);
                close(sv[0]);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != self)
                    _exit(1);
                serve(sv[1], opt.script);
            }
            a.pid = pid;
            a.err = pid < 0 ? errno : 0;
            if (pid > 0)
                kids[pid] = 0;
            close(sv[1]);
        }
        msghdr mh{};
        iovec iov{&a, sizeof a};
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
        if (a.pid > 0) {
            mh.msg_control = cbuf;
            mh.msg_controllen = sizeof cbuf;
            cmsghdr *c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            std::memcpy(CMSG_DATA(c), &sv[0], sizeof(int));
        }
        (void)sendmsg(ctl, &mh, MSG_NOSIGNAL);
        if (sv[0] >= 0)
            close(sv[0]);
    }
}

} // namespace

bool drop_identity(const Identity &id)
{
    if (id.switch_ids) {
        const gid_t groups[1] = {id.gid};
        if (setgroups(1, groups) != 0 || setresgid(id.gid, id.gid, id.gid) != 0 ||
            setresuid(id.uid, id.uid, id.uid) != 0)
            return false;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    uid_t r = 0, e = 0, s = 0;
    return getresuid(&r, &e, &s) == 0 && r != 0 && e != 0 && s != 0;
}

int sanitize_child(int keep, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {
    };
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, nullptr);
    // stdin/stdout/stderr: /dev/null (in inetd mode the daemon's may be a
    // client's socket); `keep` moves to 3; everything else closes.
    const int moved = fcntl(keep, F_DUPFD, 10);
    const int null = open("/dev/null", O_RDWR);
    if (moved < 0 || null < 0)
        _exit(1);
    for (int fd = 0; fd < 3; ++fd)
        dup2(null, fd);
    if (dup2(moved, 3) != 3)
        _exit(1);
#if defined(SYS_close_range)
    if (syscall(SYS_close_range, 4, ~0u, 0) != 0)
#endif
    {
        rlimit rl{};
        int max_fd = 1024;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            max_fd = rl.rlim_cur > 65536 ? 65536 : static_cast<int>(rl.rlim_cur);
        for (int fd = 4; fd < max_fd; ++fd)
            close(fd);
    }
    clearenv();
    setenv("PATH", "/usr/bin:/bin", 1);
    setenv("TPOP3D_CONTEXT", "auth_perl", 1);
    setenv("MODPOP3D_CONTEXT", "auth_perl", 1);
    if (chdir("/") != 0)
        _exit(1);
    return 3;
}

Pool::Pool(PoolOptions opt, LogFn log) : opt_(std::move(opt)), log_(std::move(log)) {}

Pool::~Pool()
{
    stop();
}

unsigned Pool::spawned() const
{
    std::lock_guard lock(mu_);
    return spawned_;
}

bool Pool::start(std::string &why)
{
    owner_ = getpid();
    last_start_us_ = now_us();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        why = std::string("socketpair: ") + strerror(errno);
        return false;
    }
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
        const int ctl = sanitize_child(sv[1], parent);
        if (!drop_identity(opt_.id))
            _exit(126);
        spawner_main(ctl, opt_);
    }
    close(sv[1]);
    if (pid < 0) {
        why = std::string("fork: ") + strerror(errno);
        close(sv[0]);
        return false;
    }
    spawner_ = pid;
    ctl_ = sv[0];
    owner_ = parent;
    // The spawner's first message: the script loaded ('O') or why not ('F').
    const uint64_t deadline =
        now_us() + static_cast<uint64_t>(std::max<int64_t>(opt_.timeout_ms, 10000)) * 1000u;
    std::string status(8192, '\0');
    ssize_t n = -1;
    for (;;) {
        const uint64_t now = now_us();
        if (now >= deadline)
            break;
        pollfd p{ctl_, POLLIN, 0};
        const int r = poll(&p, 1, static_cast<int>((deadline - now) / 1000 + 1));
        if (r > 0) {
            n = recv(ctl_, status.data(), status.size(), 0);
            break;
        }
        if (r < 0 && errno != EINTR)
            break;
    }
    if (n > 0 && status[0] == 'O')
        return true;
    why = n > 1 && status[0] == 'F' ? status.substr(1, static_cast<std::size_t>(n) - 1)
          : n < 0                   ? "the start code did not finish in time"
                                    : "the spawner died loading the script";
    kill(spawner_, SIGKILL);
    stop();
    return false;
}

void Pool::stop()
{
    if (owner_ != getpid()) {
        // Inherited over fork: the spawner and helpers are not ours.
        for (auto &h : idle_)
            close(h.fd);
        idle_.clear();
        if (ctl_ >= 0)
            close(ctl_);
        ctl_ = -1;
        return;
    }
    for (auto &h : idle_)
        close(h.fd); // end of file: the helper runs `finish` and exits
    idle_.clear();
    if (ctl_ >= 0)
        close(ctl_); // the spawner waits for its helpers, then exits
    ctl_ = -1;
    if (spawner_ > 0) {
        int status = 0;
        const uint64_t deadline = now_us() + stop_grace_us + 2000000;
        while (waitpid(spawner_, &status, WNOHANG) == 0) {
            if (now_us() >= deadline) {
                kill(spawner_, SIGKILL);
                (void)waitpid(spawner_, &status, 0);
                break;
            }
            timespec ts{0, 10 * 1000 * 1000};
            nanosleep(&ts, nullptr);
        }
    }
    spawner_ = -1;
}

bool Pool::control(char op, pid_t pid, pid_t *ret_pid, int *ret_fd)
{
    std::lock_guard lock(ctl_mu_);
    if (ctl_ < 0)
        return false;
    const Request req{op, pid};
    if (send(ctl_, &req, sizeof req, MSG_NOSIGNAL) != sizeof req)
        return false;
    if (op != 'S')
        return true;
    pollfd p{ctl_, POLLIN, 0};
    const uint64_t deadline = now_us() + control_timeout_us;
    for (;;) {
        const uint64_t now = now_us();
        if (now >= deadline)
            return false;
        const int n = poll(&p, 1, static_cast<int>((deadline - now) / 1000 + 1));
        if (n > 0)
            break;
        if (n < 0 && errno != EINTR)
            return false;
    }
    Answer a{-1, 0};
    msghdr mh{};
    iovec iov{&a, sizeof a};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    if (recvmsg(ctl_, &mh, MSG_CMSG_CLOEXEC) != sizeof a)
        return false;
    int fd = -1;
    for (cmsghdr *c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
    if (a.pid <= 0 || fd < 0) {
        if (fd >= 0)
            close(fd);
        errno = a.err;
        return false;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    *ret_pid = a.pid;
    *ret_fd = fd;
    return true;
}

void Pool::forward_log(const Frame &f, const std::string &redact)
{
    const std::string *text = f.find("text");
    if (text == nullptr)
        return;
    std::string t = *text;
    replace_all(t, redact, "<password>");
    log_(level_number(f.find("level")), t);
}

bool Pool::spawn(Helper &h, std::string &why, const std::string &redact)
{
    if (!control('S', 0, &h.pid, &h.fd)) {
        why = std::string("the spawner did not start a helper: ") +
              (errno != 0 ? strerror(errno) : "no answer");
        return false;
    }
    {
        std::lock_guard lock(mu_);
        ++spawned_;
    }
    // The helper runs `start` and says ready (log lines may come first).
    const uint64_t deadline = now_us() + static_cast<uint64_t>(opt_.timeout_ms) * 1000u;
    for (;;) {
        Frame f;
        const Io io = recv_frame(h.fd, f, deadline);
        if (io == Io::ok && f.type == 'L') {
            forward_log(f, redact);
            continue;
        }
        if (io == Io::ok && f.type == 'R')
            return true;
        if (io == Io::ok && f.type == 'E' && f.find("error") != nullptr)
            why = "helper start-up failed: " + *f.find("error");
        else
            why = io == Io::timeout ? "the start code timed out" : "the helper died starting";
        replace_all(why, redact, "<password>");
        close(h.fd);
        (void)control('K', h.pid, nullptr, nullptr);
        h = Helper{};
        return false;
    }
}

bool Pool::acquire(Helper &h, std::string &why, const std::string &redact)
{
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(opt_.timeout_ms);
    {
        std::unique_lock lock(mu_);
        for (;;) {
            if (!idle_.empty()) {
                h = idle_.back();
                idle_.pop_back();
                return true;
            }
            if (live_ < opt_.max_helpers) {
                ++live_; // reserved; started below, outside the lock
                break;
            }
            if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
                live_ >= opt_.max_helpers) {
                why = "all " + std::to_string(opt_.max_helpers) + " helpers stayed busy";
                return false;
            }
        }
    }
    h = Helper{};
    if (spawn(h, why, redact))
        return true;
    std::lock_guard lock(mu_); // no helper: give the slot back
    --live_;
    freed_.notify_one();
    return false;
}

void Pool::release(Helper &h)
{
    if (++h.uses >= opt_.max_use) {
        discard(h, false); // recycled: `finish`, exit, a fresh one on demand
        return;
    }
    std::lock_guard lock(mu_);
    idle_.push_back(h);
    freed_.notify_one();
}

void Pool::discard(Helper &h, bool kill_now)
{
    if (h.fd >= 0)
        close(h.fd);
    if (h.pid > 0)
        (void)control(kill_now ? 'K' : 'R', h.pid, nullptr, nullptr);
    h = Helper{};
    std::lock_guard lock(mu_);
    --live_;
    freed_.notify_one();
}

Pool::Result Pool::exchange(Helper &h, uint64_t deadline, const std::string &sub, Pairs &reply,
                            std::string &why, const std::string &redact, bool *alive)
{
    *alive = false;
    for (;;) {
        Frame f;
        const Io io = recv_frame(h.fd, f, deadline);
        if (io == Io::ok && f.type == 'L') {
            forward_log(f, redact);
            continue;
        }
        if (io == Io::ok && f.type == 'R') {
            reply = std::move(f.pairs);
            *alive = true;
            return Result::ok;
        }
        if (io == Io::ok && f.type == 'E') {
            const std::string *e = f.find("error");
            why = e != nullptr ? *e : "unknown error";
            replace_all(why, redact, "<password>");
            *alive = true;
            return Result::perl_error;
        }
        why = io == Io::timeout ? "sub '" + sub + "' did not answer within " +
                                      std::to_string(opt_.timeout_ms) + "ms: helper killed"
              : io == Io::closed ? "the helper died during the call to '" + sub + "'"
                                 : "the helper sent a malformed frame";
        return Result::failed;
    }
}

Pool::Result Pool::call(const std::string &sub, const Pairs &request, Pairs &reply,
                        std::string &why, const std::string &redact)
{
    if (owner_ != getpid()) {
        why = "the Perl helpers are not running in this process";
        return Result::failed;
    }
    {
        // The start code failed (at process_init or since): try again, at
        // most every start_retry_us, meanwhile fail fast.
        std::lock_guard lock(ctl_mu_);
        if (ctl_ < 0) {
            if (now_us() - last_start_us_ < start_retry_us) {
                why = "the start code failed; next try within 5s";
                return Result::failed;
            }
            if (!start(why))
                return Result::failed;
            log_(5, "the start code succeeded: helpers available again");
        }
    }
    Pairs pairs{{"sub", sub}};
    pairs.insert(pairs.end(), request.begin(), request.end());
    std::string frame;
    const bool encoded = encode('C', pairs, frame);
    for (auto &kv : pairs)
        wipe(kv.second);
    if (!encoded) {
        wipe(frame);
        why = "the request does not fit in a frame";
        return Result::failed;
    }
    Helper h;
    if (!acquire(h, why, redact)) {
        wipe(frame);
        return Result::failed;
    }
    const uint64_t deadline = now_us() + static_cast<uint64_t>(opt_.timeout_ms) * 1000u;
    const Io sent = send_all(h.fd, frame, deadline);
    wipe(frame);
    if (sent != Io::ok) {
        why = "the helper did not take the request";
        discard(h, true);
        return Result::failed;
    }
    bool alive = false;
    const Result r = exchange(h, deadline, sub, reply, why, redact, &alive);
    if (alive)
        release(h);
    else
        discard(h, true);
    return r;
}

} // namespace modpop3d::auth_perl
