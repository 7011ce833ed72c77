// test_safety.cpp - locking, commit semantics, kill -9 and ENOSPC at every
// commit step, and concurrent delivery, for mailbox_mbox.
#include "lock_records.hpp"
#include "mbox_test_util.hpp"

#include <chrono>
#include <dirent.h>
#include <set>
#include <signal.h>
#include <sys/time.h>
#include <thread>

using namespace mboxtest;

namespace
{

struct Safety : ::testing::Test {
    TempDir dir;
    std::string box = dir / "mbox";
};

std::string body(int i)
{
    return "Message-ID: <" + std::to_string(i) + "@test>\nSubject: n" + std::to_string(i) +
           "\n\nbody " + std::to_string(i) + "\nFrom quoted\n";
}

std::string make_box(int n)
{
    std::string s;
    for (int i = 0; i < n; ++i)
        s += entry(body(i));
    return s;
}

std::string expected_after(int n, const std::vector<uint8_t> &del)
{
    std::string s;
    for (int i = 0; i < n; ++i)
        if (!del[static_cast<std::size_t>(i)])
            s += entry(body(i));
    return s;
}

void age(const std::string &path, int seconds)
{
    struct timeval tv[2];
    gettimeofday(&tv[0], nullptr);
    tv[0].tv_sec -= seconds;
    tv[1] = tv[0];
    ASSERT_EQ(utimes(path.c_str(), tv), 0);
}

} // namespace

TEST_F(Safety, SecondOpenIsLockedUntilTheFirstCloses)
{
    write_file(box, make_box(2));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    {
        Open a(mod, box);
        ASSERT_EQ(a.status, MODPOP3D_OK);
        EXPECT_TRUE(exists(box + ".lock"));
        Open b(mod, box);
        EXPECT_EQ(b.status, MODPOP3D_E_LOCKED);
    }
    EXPECT_FALSE(exists(box + ".lock"));
    Open c(mod, box);
    EXPECT_EQ(c.status, MODPOP3D_OK);
    // fcntl alone (OFD locks) also excludes a second session of one process.
    LoadedModule fonly(modpop3d::testing::module_path(), fast_locks({{"locking", "fcntl"}}));
    c.close();
    Open d(fonly, box);
    ASSERT_EQ(d.status, MODPOP3D_OK);
    EXPECT_EQ(Open(fonly, box).status, MODPOP3D_E_LOCKED);
}

TEST_F(Safety, FreshDotlockLocksStaleDotlockIsRemoved)
{
    write_file(box, make_box(1));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks({{"dotlock-stale", "5m"}}));
    write_file(box + ".lock", "12345\n");
    EXPECT_EQ(Open(mod, box).status, MODPOP3D_E_LOCKED);
    EXPECT_TRUE(exists(box + ".lock")); // a fresh foreign lock is left alone
    age(box + ".lock", 600);
    Open o(mod, box);
    EXPECT_EQ(o.status, MODPOP3D_OK);
    o.close();
    EXPECT_FALSE(exists(box + ".lock"));
}

// ---- stale dotlocks judged by their owner ----------------------------------

namespace
{

int64_t ms_since(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t0)
        .count();
}

bool logged(const LoadedModule &mod, const std::string &a, const std::string &b)
{
    for (const std::string &line : mod.log_lines())
        if (line.find(a) != std::string::npos && line.find(b) != std::string::npos)
            return true;
    return false;
}

} // namespace

TEST_F(Safety, OurDotlockRecordsItsOwner)
{
    write_file(box, make_box(1));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    Open o(mod, box);
    ASSERT_EQ(o.status, MODPOP3D_OK);
    EXPECT_EQ(read_file(box + ".lock"), lockrec::record(getpid(), lockrec::host(), lockrec::boot(),
                                                        lockrec::start_of(getpid())));
}

TEST_F(Safety, DeadOwnersDotlockIsBrokenAtOnceAndLogged)
{
    write_file(box, make_box(1));
    // dotlock-stale 0: the age rule could never break it.
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks({{"dotlock-stale", "0"}}));
    long pid = lockrec::dead_pid();
    write_file(box + ".lock", lockrec::record(pid, lockrec::host(), lockrec::boot(), 12345));
    Open o(mod, box);
    ASSERT_EQ(o.status, MODPOP3D_OK);
    EXPECT_TRUE(logged(mod, "event=stale_lock_broken",
                       "owner pid " + std::to_string(pid) + " no longer exists"));
    // The lock is ours now.
    EXPECT_EQ(read_file(box + ".lock").substr(0, std::to_string(getpid()).size() + 1),
              std::to_string(getpid()) + "\n");
    // Nothing left aside: no moved-aside lock, no hitching post.
    DIR *d = opendir(dir.path.c_str());
    ASSERT_NE(d, nullptr);
    while (struct dirent *e = readdir(d))
        EXPECT_EQ(std::string(e->d_name).find("lock."), std::string::npos) << e->d_name;
    closedir(d);
}

TEST_F(Safety, LiveOwnersDotlockIsRespected)
{
    write_file(box, make_box(1));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks({{"dotlock-stale", "1m"}}));
    lockrec::Sleeper child;
    ASSERT_GT(child.pid, 0);
    uint64_t start = 0;
    for (int i = 0; i < 200 && start == 0; ++i) // the child's /proc entry is there at once
        start = lockrec::start_of(child.pid);
    ASSERT_NE(start, 0u);
    const std::string rec = lockrec::record(child.pid, lockrec::host(), lockrec::boot(), start);
    write_file(box + ".lock", rec);
    age(box + ".lock", 3600); // older than dotlock-stale: the owner rule wins
    EXPECT_EQ(Open(mod, box).status, MODPOP3D_E_LOCKED);
    EXPECT_EQ(read_file(box + ".lock"), rec);
    // Our own process (another session of this worker) is alive too.
    const std::string self =
        lockrec::record(getpid(), lockrec::host(), lockrec::boot(), lockrec::start_of(getpid()));
    write_file(box + ".lock", self);
    EXPECT_EQ(Open(mod, box).status, MODPOP3D_E_LOCKED);
    EXPECT_EQ(read_file(box + ".lock"), self);
}

TEST_F(Safety, ReusedPidIsStale)
{
    write_file(box, make_box(1));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks({{"dotlock-stale", "0"}}));
    lockrec::Sleeper child;
    uint64_t start = 0;
    for (int i = 0; i < 200 && start == 0; ++i)
        start = lockrec::start_of(child.pid);
    ASSERT_NE(start, 0u);
    // The pid runs, but a process started at another time held the lock.
    write_file(box + ".lock",
               lockrec::record(child.pid, lockrec::host(), lockrec::boot(), start + 1000));
    Open o(mod, box);
    ASSERT_EQ(o.status, MODPOP3D_OK);
    EXPECT_TRUE(logged(mod, "event=stale_lock_broken", "reused"));
}

TEST_F(Safety, KilledButUnreapedOwnerIsStale)
{
    // A worker killed with -9 is a zombie until the master reaps it.
    write_file(box, make_box(1));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks({{"dotlock-stale", "0"}}));
    lockrec::Sleeper child;
    uint64_t start = 0;
    for (int i = 0; i < 200 && start == 0; ++i)
        start = lockrec::start_of(child.pid);
    ASSERT_NE(start, 0u);
    write_file(box + ".lock", lockrec::record(child.pid, lockrec::host(), lockrec::boot(), start));
    EXPECT_EQ(Open(mod, box).status, MODPOP3D_E_LOCKED);
    ASSERT_EQ(kill(child.pid, SIGKILL), 0);
    siginfo_t si{};
    // Wait for the death without reaping it (WNOWAIT keeps the zombie).
    ASSERT_EQ(waitid(P_PID, static_cast<id_t>(child.pid), &si, WEXITED | WNOWAIT), 0);
    ASSERT_EQ(kill(child.pid, 0), 0) << "still a zombie";
    Open o(mod, box);
    ASSERT_EQ(o.status, MODPOP3D_OK);
    EXPECT_TRUE(logged(mod, "event=stale_lock_broken", "has exited"));
}

TEST_F(Safety, EarlierBootIsStale)
{
    write_file(box, make_box(1));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks({{"dotlock-stale", "0"}}));
    // Our own pid, alive - but recorded in another boot of this host.
    write_file(box + ".lock", lockrec::record(getpid(), lockrec::host(),
                                              "00000000-0000-4000-8000-000000000000", 1));
    Open o(mod, box);
    ASSERT_EQ(o.status, MODPOP3D_OK);
    EXPECT_TRUE(logged(mod, "event=stale_lock_broken", "earlier boot"));
}

TEST_F(Safety, OtherHostsAndForeignDotlocksKeepTheAgeRule)
{
    write_file(box, make_box(1));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks({{"dotlock-stale", "5m"}}));
    long dead = lockrec::dead_pid();
    // Another host's lock naming a pid that is not running here: we cannot
    // ask that host, so only its age counts.
    const std::string other = lockrec::record(dead, "other-host.example", lockrec::boot(), 1);
    const std::string empty;                                  // procmail, postfix: an empty dotlock
    const std::string pid_only = std::to_string(dead) + "\n"; // liblockfile, old modpop3d
    for (const std::string &content : {other, empty, pid_only}) {
        write_file(box + ".lock", content);
        EXPECT_EQ(Open(mod, box).status, MODPOP3D_E_LOCKED) << content;
        EXPECT_EQ(read_file(box + ".lock"), content);
        age(box + ".lock", 240); // younger than 5m: still held
        EXPECT_EQ(Open(mod, box).status, MODPOP3D_E_LOCKED) << content;
        age(box + ".lock", 600);
        Open o(mod, box);
        EXPECT_EQ(o.status, MODPOP3D_OK) << content;
    }
    EXPECT_TRUE(logged(mod, "event=stale_lock_broken", "on host other-host.example"));
}

TEST_F(Safety, OpenOnALockedMboxNeverWaits)
{
    write_file(box, make_box(1));
    // lock-timeout is accepted but ignored: open makes one attempt.
    LoadedModule mod(modpop3d::testing::module_path(), {{"lock-timeout", "10s"}});
    {
        Open holder(mod, box);
        ASSERT_EQ(holder.status, MODPOP3D_OK);
        for (int i = 0; i < 5; ++i) {
            auto t0 = std::chrono::steady_clock::now();
            EXPECT_EQ(Open(mod, box).status, MODPOP3D_E_LOCKED);
            // Generous: the old module retried here for the whole lock-timeout.
            EXPECT_LT(ms_since(t0), 250);
        }
    }
    // An MDA's fcntl lock (fcntl first, as postfix without a dotlock).
    LoadedModule fcntl_first(modpop3d::testing::module_path(),
                             {{"lock-timeout", "10s"}, {"locking", "fcntl dotlock"}});
    int go[2], done[2];
    ASSERT_EQ(pipe(go), 0);
    ASSERT_EQ(pipe(done), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int fd = ::open(box.c_str(), O_RDWR);
        struct flock fl {
        };
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        char c = fcntl(fd, F_SETLK, &fl) == 0 ? 'y' : 'n';
        (void)!::write(go[1], &c, 1);
        (void)!::read(done[0], &c, 1);
        _exit(0);
    }
    char c = 0;
    ASSERT_EQ(::read(go[0], &c, 1), 1);
    ASSERT_EQ(c, 'y');
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(Open(fcntl_first, box).status, MODPOP3D_E_LOCKED);
    EXPECT_LT(ms_since(t0), 250);
    EXPECT_FALSE(exists(box + ".lock")) << "locks taken are released on LOCKED";
    ASSERT_EQ(::write(done[1], "x", 1), 1);
    int status = 0;
    waitpid(pid, &status, 0);
    for (int fd : {go[0], go[1], done[0], done[1]})
        ::close(fd);
    EXPECT_EQ(Open(fcntl_first, box).status, MODPOP3D_OK);
}

TEST_F(Safety, FcntlLockOfAnotherProcess)
{
    write_file(box, make_box(1));
    int go[2], done[2];
    ASSERT_EQ(pipe(go), 0);
    ASSERT_EQ(pipe(done), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) { // an MDA holding a classic POSIX lock
        int fd = ::open(box.c_str(), O_RDWR);
        struct flock fl {
        };
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        int ok = fcntl(fd, F_SETLK, &fl) == 0;
        char c = ok ? 'y' : 'n';
        (void)!::write(go[1], &c, 1);
        (void)!::read(done[0], &c, 1);
        _exit(0);
    }
    char c = 0;
    ASSERT_EQ(::read(go[0], &c, 1), 1);
    ASSERT_EQ(c, 'y');
    for (const char *locking : {"fcntl", "dotlock fcntl", "fcntl dotlock"}) {
        LoadedModule mod(modpop3d::testing::module_path(), fast_locks({{"locking", locking}}));
        EXPECT_EQ(Open(mod, box).status, MODPOP3D_E_LOCKED) << locking;
        EXPECT_FALSE(exists(box + ".lock")) << "no lock kept while waiting: " << locking;
    }
    ASSERT_EQ(::write(done[1], "x", 1), 1);
    int status = 0;
    waitpid(pid, &status, 0);
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    EXPECT_EQ(Open(mod, box).status, MODPOP3D_OK);
}

TEST_F(Safety, KeepaliveRefreshesTheDotlock)
{
    write_file(box, make_box(1));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    Open o(mod, box);
    ASSERT_EQ(o.status, MODPOP3D_OK);
    age(box + ".lock", 3600);
    ASSERT_EQ(mod.mailbox().keepalive(o.mb), MODPOP3D_OK);
    struct stat st;
    ASSERT_EQ(stat((box + ".lock").c_str(), &st), 0);
    EXPECT_GT(st.st_mtime, time(nullptr) - 60);
    // A broken (removed) lock is reported.
    unlink((box + ".lock").c_str());
    EXPECT_NE(mod.mailbox().keepalive(o.mb), MODPOP3D_OK);
}

TEST_F(Safety, CommitKeepsOwnerModeAndLateMail)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "changing the group to an arbitrary gid needs root";
    write_file(box, make_box(5), 0640);
    ASSERT_EQ(chown(box.c_str(), geteuid(), 4343), 0);
    ASSERT_EQ(chmod(box.c_str(), 0640), 0);
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    std::vector<uint8_t> del = {1, 0, 1, 0, 0};
    std::string late = entry("Message-ID: <late@test>\n\nlate\n");
    {
        Open o(mod, box);
        ASSERT_EQ(o.count, 5u);
        // Mail that appears beyond what scan saw is copied verbatim.
        int fd = ::open(box.c_str(), O_WRONLY | O_APPEND);
        ASSERT_EQ(::write(fd, late.data(), late.size()), static_cast<ssize_t>(late.size()));
        ::close(fd);
        ASSERT_EQ(o.commit(del), MODPOP3D_OK);
        int32_t st = MODPOP3D_OK;
        (void)mod.retrieve_all(o.mb, 0, 0, &st);
        EXPECT_EQ(st, MODPOP3D_E_INVAL) << "no retrieve after commit";
    }
    EXPECT_EQ(read_file(box), expected_after(5, del) + late);
    struct stat st;
    ASSERT_EQ(stat(box.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(st.st_uid, geteuid());
    EXPECT_EQ(st.st_gid, 4343u);
    EXPECT_FALSE(exists(dir / ".mbox.modpop3d-new"));
    EXPECT_FALSE(exists(box + ".lock"));
    Open o(mod, box);
    EXPECT_EQ(o.count, 4u);
    EXPECT_EQ(o.get(3), "Message-ID: <late@test>\n\nlate\n");
}

TEST_F(Safety, CommitWithNothingDeletedTouchesNothingAndDeleteAllEmpties)
{
    write_file(box, make_box(3));
    struct stat before;
    ASSERT_EQ(stat(box.c_str(), &before), 0);
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    {
        Open o(mod, box);
        ASSERT_EQ(o.commit({0, 0, 0}), MODPOP3D_OK);
    }
    struct stat after;
    ASSERT_EQ(stat(box.c_str(), &after), 0);
    EXPECT_EQ(before.st_ino, after.st_ino);
    EXPECT_EQ(read_file(box), make_box(3));
    {
        Open o(mod, box);
        EXPECT_EQ(o.commit({1, 1}), MODPOP3D_E_INVAL); // wrong count
    }
    {
        Open o(mod, box);
        ASSERT_EQ(o.commit({1, 1, 1}), MODPOP3D_OK);
    }
    EXPECT_EQ(read_file(box), "");
    Open o(mod, box);
    EXPECT_EQ(o.status, MODPOP3D_OK);
    EXPECT_EQ(o.count, 0u);
}

TEST_F(Safety, CloseWithoutCommitDeletesNothing)
{
    write_file(box, make_box(3));
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    {
        Open o(mod, box);
        (void)o.get(1);
    }
    EXPECT_EQ(read_file(box), make_box(3));
}

// ---- kill -9 and ENOSPC at every step of commit ---------------------------

TEST_F(Safety, KillAtEveryCommitStep)
{
    const int n = 6;
    const std::vector<uint8_t> del = {0, 1, 1, 0, 1, 0};
    const std::string original = make_box(n);
    const std::string result = expected_after(n, del);
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks({{"dotlock-stale", "1m"}}));
    int killed = 0;
    bool completed = false;
    for (int k = 1; k <= 200 && !completed; ++k) {
        write_file(box, original, 0640);
        const gid_t gid = geteuid() == 0 ? 4343 : getegid();
        ASSERT_EQ(chown(box.c_str(), geteuid(), gid), 0);
        ASSERT_EQ(chmod(box.c_str(), 0640), 0);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            setenv("MODPOP3D_MBOX_FAULT", ("kill@" + std::to_string(k)).c_str(), 1);
            int rc = 1;
            {
                Open o(mod, box);
                if (o.status == MODPOP3D_OK && o.count == static_cast<uint32_t>(n))
                    rc = o.commit(del) == MODPOP3D_OK ? 0 : 2;
            }
            _exit(rc);
        }
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        std::string now = read_file(box);
        if (WIFSIGNALED(status)) {
            ASSERT_EQ(WTERMSIG(status), SIGKILL);
            ++killed;
            EXPECT_TRUE(now == original || now == result) << "damaged after kill at step " << k;
            // The dead session's dotlock names a pid that is gone: the next
            // open below breaks it at once, whatever its age.
        } else {
            ASSERT_TRUE(WIFEXITED(status));
            ASSERT_EQ(WEXITSTATUS(status), 0) << "commit failed without a fault at step " << k;
            EXPECT_EQ(now, result);
            completed = true;
        }
        struct stat st;
        ASSERT_EQ(stat(box.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 07777, 0640u) << k;
        EXPECT_EQ(st.st_gid, gid) << k;
        Open fresh(mod, box);
        ASSERT_EQ(fresh.status, MODPOP3D_OK) << "fresh open after kill at " << k;
        EXPECT_EQ(fresh.count, now == original ? static_cast<uint32_t>(n) : 3u);
    }
    EXPECT_TRUE(completed);
    EXPECT_GE(killed, 8); // create, fchmod, write, fsync, close, rename, dirsync, ...
}

TEST_F(Safety, EnospcAtEveryWriteStepLeavesTheMailboxIntact)
{
    const int n = 40;
    std::vector<uint8_t> del(n, 0);
    for (int i = 0; i < n; i += 3)
        del[static_cast<std::size_t>(i)] = 1;
    // A mailbox big enough for several write() calls of the copy.
    std::string big;
    for (int i = 0; i < n; ++i)
        big += entry(body(i) + std::string(100000, 'z') + "\n");
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks());
    int failures = 0;
    bool completed = false;
    for (int k = 1; k <= 200 && !completed; ++k) {
        write_file(box, big);
        setenv("MODPOP3D_MBOX_FAULT", ("enospc@" + std::to_string(k)).c_str(), 1);
        int32_t rc;
        {
            Open o(mod, box);
            ASSERT_EQ(o.count, static_cast<uint32_t>(n));
            rc = o.commit(del);
        }
        unsetenv("MODPOP3D_MBOX_FAULT");
        if (rc == MODPOP3D_E_NOSPACE) {
            ++failures;
            EXPECT_TRUE(read_file(box) == big) << "changed after ENOSPC at step " << k;
            EXPECT_FALSE(exists(dir / ".mbox.modpop3d-new")) << k;
        } else {
            ASSERT_EQ(rc, MODPOP3D_OK) << k;
            completed = true;
        }
        Open o(mod, box);
        ASSERT_EQ(o.status, MODPOP3D_OK);
    }
    EXPECT_TRUE(completed);
    EXPECT_GE(failures, 6);
}

// ---- concurrent delivery ---------------------------------------------------

namespace
{

// deliver - one delivery the way procmail and postfix do it: dotlock first
// (hitching post + link), then open, then a blocking POSIX fcntl lock.
bool deliver(const std::string &box, int id)
{
    std::string lock = box + ".lock";
    std::string post = box + ".mda." + std::to_string(getpid());
    for (int tries = 0; tries < 20000; ++tries) {
        int fd = ::open(post.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0)
            return false;
        ::close(fd);
        (void)link(post.c_str(), lock.c_str());
        struct stat st;
        bool ours = stat(post.c_str(), &st) == 0 && st.st_nlink == 2;
        unlink(post.c_str());
        if (ours)
            break;
        usleep(1000);
        if (tries == 19999)
            return false;
    }
    int fd = ::open(box.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
    struct flock fl {
    };
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    bool ok = fd >= 0 && fcntl(fd, F_SETLKW, &fl) == 0;
    std::string m = entry("Message-ID: <d" + std::to_string(id) + "@test>\n\nfrom the MDA\n");
    ok = ok && ::write(fd, m.data(), m.size()) == static_cast<ssize_t>(m.size()) && fsync(fd) == 0;
    if (fd >= 0)
        ::close(fd);
    unlink(lock.c_str());
    return ok;
}

std::vector<std::string> ids_in(const std::string &data)
{
    std::vector<std::string> ids;
    std::size_t pos = 0;
    while ((pos = data.find("Message-ID: <", pos)) != std::string::npos) {
        std::size_t end = data.find('>', pos);
        ids.push_back(data.substr(pos + 13, end - pos - 13));
        pos = end;
    }
    return ids;
}

} // namespace

TEST_F(Safety, ConcurrentDeliveryLosesNothing)
{
    const int total = 150;
    write_file(box, "");
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        for (int i = 0; i < total; ++i) {
            if (!deliver(box, i))
                _exit(1);
            if (i % 10 == 0)
                usleep(2000);
        }
        _exit(0);
    }
    LoadedModule mod(modpop3d::testing::module_path(), fast_locks({{"lock-timeout", "2s"}}));
    std::vector<std::string> deleted;
    bool child_done = false;
    int child_status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    for (int round = 0; round < 100000 && std::chrono::steady_clock::now() < deadline; ++round) {
        if (!child_done && waitpid(pid, &child_status, WNOHANG) == pid)
            child_done = true;
        Open o(mod, box);
        if (o.status == MODPOP3D_E_LOCKED)
            continue;
        ASSERT_EQ(o.status, MODPOP3D_OK);
        std::vector<uint8_t> del(o.count, 0);
        std::vector<std::string> these;
        for (uint32_t i = 0; i < o.count; ++i) {
            std::string m = o.get(i);
            auto ids = ids_in(m);
            ASSERT_EQ(ids.size(), 1u) << m;
            if ((round + i) % 3 != 0) { // delete two thirds, keep the rest a while
                del[i] = 1;
                these.push_back(ids[0]);
            }
        }
        if (o.commit(del) == MODPOP3D_OK)
            deleted.insert(deleted.end(), these.begin(), these.end());
        if (child_done)
            break;
    }
    if (!child_done) {
        ASSERT_EQ(waitpid(pid, &child_status, 0), pid);
    }
    ASSERT_TRUE(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0);
    std::vector<std::string> remaining = ids_in(read_file(box));
    std::multiset<std::string> all(deleted.begin(), deleted.end());
    all.insert(remaining.begin(), remaining.end());
    std::set<std::string> uniq(all.begin(), all.end());
    EXPECT_EQ(all.size(), uniq.size()) << "duplicates";
    EXPECT_EQ(uniq.size(), static_cast<std::size_t>(total)) << "lost mail";
    for (int i = 0; i < total; ++i)
        EXPECT_EQ(uniq.count("d" + std::to_string(i) + "@test"), 1u) << i;
    EXPECT_GT(deleted.size(), 0u);
}
