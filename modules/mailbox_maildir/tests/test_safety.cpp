// test_safety.cpp - open-time checks (missing, symlinked, foreign maildirs),
// refused message files, the exclusive session lock and tmp/ cleanup.
#include "lock_records.hpp"
#include "maildir_fixture.hpp"

#include <chrono>
#include <sys/types.h>

using namespace maildir_test;
using modpop3d::testing::module_path;

TEST(MaildirOpen, MissingOrNotAMaildirIsNoent)
{
    TempDir t;
    LoadedModule mod(module_path(), {});
    EXPECT_EQ(Mbox(mod, t.path() + "/nothing-here").status(), MODPOP3D_E_NOENT);
    // An existing directory without new/ and cur/ is not a maildir either.
    ASSERT_EQ(::mkdir((t.path() + "/plain").c_str(), 0700), 0);
    EXPECT_EQ(Mbox(mod, t.path() + "/plain").status(), MODPOP3D_E_NOENT);
    // Half a maildir is damage, not absence.
    ASSERT_EQ(::mkdir((t.path() + "/plain/cur").c_str(), 0700), 0);
    EXPECT_EQ(Mbox(mod, t.path() + "/plain").status(), MODPOP3D_E_CORRUPT);
    // A relative location is refused.
    EXPECT_EQ(Mbox(mod, "Maildir").status(), MODPOP3D_E_PERM);
}

TEST(MaildirOpen, SymlinksAreRefused)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000001.a.host", "a\n");
    LoadedModule mod(module_path(), {});
    // The maildir itself.
    ASSERT_EQ(::symlink(md.c_str(), (t.path() + "/link").c_str()), 0);
    EXPECT_EQ(Mbox(mod, t.path() + "/link").status(), MODPOP3D_E_PERM);
    // new/ replaced by a symlink.
    std::string md2 = make_maildir(t.path() + "/Maildir2");
    ASSERT_EQ(::rmdir((md2 + "/new").c_str()), 0);
    ASSERT_EQ(::symlink((md + "/new").c_str(), (md2 + "/new").c_str()), 0);
    EXPECT_EQ(Mbox(mod, md2).status(), MODPOP3D_E_PERM);
}

TEST(MaildirOpen, SymlinkedMessageFilesAreNeverServed)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    std::string secret = t.path() + "/secret";
    write_file(secret, "top secret\n");
    deliver(md, "1700000001.a.host", "a\n");
    ASSERT_EQ(::symlink(secret.c_str(), (md + "/new/1700000002.evil.host").c_str()), 0);
    ASSERT_EQ(::mkfifo((md + "/cur/1700000003.fifo.host").c_str(), 0600), 0);
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.status(), MODPOP3D_OK);
    ASSERT_EQ(mb.scan(), 1u);
    EXPECT_EQ(retrieve_string(mb, 0), "a\n");
    EXPECT_TRUE(log_has(mod, {"event=scan", "skipped_symlink=1", "skipped_not_regular=1"}));

    // Swapped for a symlink after the scan: refused at open (O_NOFOLLOW).
    ASSERT_EQ(::unlink((md + "/new/1700000001.a.host").c_str()), 0);
    ASSERT_EQ(::symlink(secret.c_str(), (md + "/new/1700000001.a.host").c_str()), 0);
    int32_t st = MODPOP3D_OK;
    EXPECT_EQ(retrieve_string(mb, 0, &st), "");
    EXPECT_EQ(st, MODPOP3D_E_PERM);
}

TEST(MaildirOpen, ForeignOwnerIsRefused)
{
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to chown";
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000001.a.host", "a\n");
    deliver(md, "1700000002.b.host", "b\n");
    LoadedModule mod(module_path(), {});
    // A message owned by someone else is not listed.
    ASSERT_EQ(::chown((md + "/new/1700000002.b.host").c_str(), 4242, 4242), 0);
    {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.scan(), 1u);
        EXPECT_TRUE(log_has(mod, {"skipped_foreign_owner=1"}));
    }
    // A maildir owned by someone else is refused.
    ASSERT_EQ(::chown(md.c_str(), 4242, 4242), 0);
    EXPECT_EQ(Mbox(mod, md).status(), MODPOP3D_E_PERM);
    ASSERT_EQ(::chown(md.c_str(), 0, 0), 0);
    // A world-writable one too.
    ASSERT_EQ(::chmod(md.c_str(), 0777), 0);
    EXPECT_EQ(Mbox(mod, md).status(), MODPOP3D_E_PERM);
}

TEST(MaildirOpen, HardLinksRefusedOnlyWhenAsked)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000001.a.host", "a\n");
    ASSERT_EQ(::link((md + "/new/1700000001.a.host").c_str(), (t.path() + "/other").c_str()), 0);
    LoadedModule lax(module_path(), {});
    EXPECT_EQ(Mbox(lax, md).scan(), 1u);
    LoadedModule strict(module_path(), {{"refuse-hard-links", "yes"}});
    EXPECT_EQ(Mbox(strict, md).scan(), 0u);
}

TEST(MaildirLock, SecondSessionIsLockedOut)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000001.a.host", "a\n");
    LoadedModule mod(module_path(), {{"exclusive-lock", "yes"}});
    {
        Mbox first(mod, md);
        ASSERT_EQ(first.status(), MODPOP3D_OK);
        EXPECT_EQ(::access((md + "/modpop3d-lock").c_str(), F_OK), 0);
        Mbox second(mod, md);
        EXPECT_EQ(second.status(), MODPOP3D_E_LOCKED);
        EXPECT_EQ(first.scan(), 1u);
        EXPECT_EQ(first.ops().keepalive(first.get()), MODPOP3D_OK);
    }
    // Released by close(); no temporary files left behind.
    EXPECT_NE(::access((md + "/modpop3d-lock").c_str(), F_OK), 0);
    for (const std::string &n : list_dir(md))
        EXPECT_EQ(n.find("modpop3d-lock"), std::string::npos) << n;
    Mbox third(mod, md);
    EXPECT_EQ(third.status(), MODPOP3D_OK);

    third.close();

    // The lock is the default: a second session of the same maildir is
    // refused (the core answers -ERR [IN-USE]).
    LoadedModule defaults(module_path(), {});
    {
        Mbox a(defaults, md), b(defaults, md);
        EXPECT_EQ(a.status(), MODPOP3D_OK);
        EXPECT_EQ(b.status(), MODPOP3D_E_LOCKED);
    }

    // The documented lock-free mode: with exclusive-lock: no, sessions share
    // the maildir (and no lock file is made).
    LoadedModule shared(module_path(), {{"exclusive-lock", "no"}});
    Mbox a(shared, md), b(shared, md);
    EXPECT_EQ(a.status(), MODPOP3D_OK);
    EXPECT_EQ(b.status(), MODPOP3D_OK);
    EXPECT_NE(::access((md + "/modpop3d-lock").c_str(), F_OK), 0);
}

TEST(MaildirLock, StaleLockIsBrokenAndKeepaliveRefreshes)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    const std::string lock = md + "/modpop3d-lock";
    LoadedModule mod(module_path(), {{"exclusive-lock", "yes"}, {"lock-stale-age", "5m"}});

    // A fresh foreign lock holds.
    write_file(lock, "99999 0\n");
    EXPECT_EQ(Mbox(mod, md).status(), MODPOP3D_E_LOCKED);
    EXPECT_EQ(::access(lock.c_str(), F_OK), 0);

    // Ten minutes without refresh: stale, broken, taken.
    set_mtime(lock, ::time(nullptr) - 600);
    Mbox mb(mod, md);
    ASSERT_EQ(mb.status(), MODPOP3D_OK);
    EXPECT_TRUE(log_has(mod, {"event=stale_lock_broken"}));
    EXPECT_EQ(Mbox(mod, md).status(), MODPOP3D_E_LOCKED);

    // keepalive() refreshes our lock's mtime, so it never looks stale.
    set_mtime(lock, ::time(nullptr) - 200);
    ASSERT_EQ(mb.ops().keepalive(mb.get()), MODPOP3D_OK);
    struct stat st;
    ASSERT_EQ(::stat(lock.c_str(), &st), 0);
    EXPECT_GE(st.st_mtime, ::time(nullptr) - 5);

    // A lock taken away from us is reported, and close() leaves the new
    // owner's lock alone.
    ASSERT_EQ(::unlink(lock.c_str()), 0);
    write_file(lock, "12345 0\n");
    EXPECT_EQ(mb.ops().keepalive(mb.get()), MODPOP3D_E_LOCKED);
    mb.close();
    EXPECT_EQ(read_file(lock), "12345 0\n");
}

// ---- stale session locks judged by their owner -----------------------------

namespace
{

struct LockedMaildir {
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    std::string lock = md + "/modpop3d-lock";
};

long running_start(const lockrec::Sleeper &child)
{
    uint64_t start = 0;
    for (int i = 0; i < 200 && start == 0; ++i)
        start = lockrec::start_of(child.pid);
    return static_cast<long>(start);
}

} // namespace

TEST(MaildirLock, OurLockRecordsItsOwner)
{
    LockedMaildir m;
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, m.md);
    ASSERT_EQ(mb.status(), MODPOP3D_OK);
    EXPECT_EQ(read_file(m.lock), lockrec::record(getpid(), lockrec::host(), lockrec::boot(),
                                                 lockrec::start_of(getpid())));
}

TEST(MaildirLock, DeadOwnersLockIsBrokenAtOnceAndLogged)
{
    LockedMaildir m;
    LoadedModule mod(module_path(), {{"lock-stale-age", "1d"}});
    long pid = lockrec::dead_pid();
    write_file(m.lock, lockrec::record(pid, lockrec::host(), lockrec::boot(), 4242));
    Mbox mb(mod, m.md);
    ASSERT_EQ(mb.status(), MODPOP3D_OK);
    EXPECT_TRUE(log_has(mod, {"event=stale_lock_broken",
                              "owner pid " + std::to_string(pid) + " no longer exists"}));
    EXPECT_EQ(read_file(m.lock).substr(0, std::to_string(getpid()).size() + 1),
              std::to_string(getpid()) + "\n");
    for (const std::string &n : list_dir(m.md))
        EXPECT_TRUE(n == "modpop3d-lock" || n.find("modpop3d-lock") == std::string::npos) << n;
}

TEST(MaildirLock, LiveOwnerIsRespectedWhateverTheAge)
{
    LockedMaildir m;
    LoadedModule mod(module_path(), {{"lock-stale-age", "5m"}});
    lockrec::Sleeper child;
    long start = running_start(child);
    ASSERT_NE(start, 0);
    const std::string rec =
        lockrec::record(child.pid, lockrec::host(), lockrec::boot(), static_cast<uint64_t>(start));
    write_file(m.lock, rec);
    set_mtime(m.lock, ::time(nullptr) - 3600); // older than lock-stale-age
    EXPECT_EQ(Mbox(mod, m.md).status(), MODPOP3D_E_LOCKED);
    EXPECT_EQ(read_file(m.lock), rec);
}

TEST(MaildirLock, ReusedPidAndEarlierBootAreStale)
{
    LockedMaildir m;
    LoadedModule mod(module_path(), {{"lock-stale-age", "1d"}});
    lockrec::Sleeper child;
    long start = running_start(child);
    ASSERT_NE(start, 0);
    write_file(m.lock, lockrec::record(child.pid, lockrec::host(), lockrec::boot(),
                                       static_cast<uint64_t>(start) + 1000));
    {
        Mbox mb(mod, m.md);
        EXPECT_EQ(mb.status(), MODPOP3D_OK);
    }
    EXPECT_TRUE(log_has(mod, {"event=stale_lock_broken", "reused"}));
    write_file(m.lock, lockrec::record(getpid(), lockrec::host(),
                                       "00000000-0000-4000-8000-000000000000", 1));
    {
        Mbox mb(mod, m.md);
        EXPECT_EQ(mb.status(), MODPOP3D_OK);
    }
    EXPECT_TRUE(log_has(mod, {"event=stale_lock_broken", "earlier boot"}));
}

TEST(MaildirLock, OtherHostsAndForeignLocksKeepTheAgeRule)
{
    LockedMaildir m;
    LoadedModule mod(module_path(), {{"lock-stale-age", "5m"}});
    long dead = lockrec::dead_pid();
    const std::string other = lockrec::record(dead, "other-host.example", lockrec::boot(), 1);
    const std::string old_format = std::to_string(dead) + " 1700000000\n"; // modpop3d before
    for (const std::string &content : {other, old_format, std::string()}) {
        write_file(m.lock, content);
        EXPECT_EQ(Mbox(mod, m.md).status(), MODPOP3D_E_LOCKED) << content;
        set_mtime(m.lock, ::time(nullptr) - 240);
        EXPECT_EQ(Mbox(mod, m.md).status(), MODPOP3D_E_LOCKED) << content;
        EXPECT_EQ(read_file(m.lock), content);
        set_mtime(m.lock, ::time(nullptr) - 600);
        Mbox mb(mod, m.md);
        EXPECT_EQ(mb.status(), MODPOP3D_OK) << content;
    }
    EXPECT_TRUE(log_has(mod, {"event=stale_lock_broken", "on host other-host.example"}));
}

TEST(MaildirLock, OpenOnALockedMaildirNeverWaits)
{
    LockedMaildir m;
    LoadedModule mod(module_path(), {});
    Mbox holder(mod, m.md);
    ASSERT_EQ(holder.status(), MODPOP3D_OK);
    for (int i = 0; i < 5; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(Mbox(mod, m.md).status(), MODPOP3D_E_LOCKED);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
        EXPECT_LT(ms, 250); // generous: one attempt, no retries inside open()
    }
}

TEST(MaildirTmp, OldTmpFilesAreCleanedAtOpen)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    write_file(md + "/tmp/old", "left by a crashed MDA\n");
    set_mtime(md + "/tmp/old", ::time(nullptr) - 40 * 3600);
    write_file(md + "/tmp/fresh", "being delivered\n");
    write_file(md + "/tmp/oldish", "35 hours\n");
    set_mtime(md + "/tmp/oldish", ::time(nullptr) - 35 * 3600);
    ASSERT_EQ(::mkdir((md + "/tmp/olddir").c_str(), 0700), 0);
    set_mtime(md + "/tmp/olddir", ::time(nullptr) - 40 * 3600);
    {
        LoadedModule off(module_path(), {{"tmp-cleanup", "no"}});
        Mbox mb(off, md);
        ASSERT_EQ(mb.status(), MODPOP3D_OK);
        EXPECT_EQ(list_dir(md + "/tmp").size(), 4u);
    }
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.status(), MODPOP3D_OK);
    EXPECT_EQ(list_dir(md + "/tmp"), (std::vector<std::string>{"fresh", "olddir", "oldish"}));
}

// A client polling every few minutes does not cost a sweep of tmp/ per
// login: the sweep is skipped while tmp/ is unchanged since this process's
// last one (less than an hour ago), and runs again once tmp/ changes.
TEST(MaildirTmp, UnchangedTmpIsNotSweptAgainWithinTheHour)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    write_file(md + "/tmp/ageing", "35 hours\n");
    set_mtime(md + "/tmp/ageing", ::time(nullptr) - 35 * 3600);
    LoadedModule mod(module_path(), {});
    {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.status(), MODPOP3D_OK);
        EXPECT_EQ(list_dir(md + "/tmp"), (std::vector<std::string>{"ageing"}));
    }
    // It reaches tmp-max-age; tmp/ itself is unchanged (utimes touches the
    // file's times only), so the next login does not look.
    set_mtime(md + "/tmp/ageing", ::time(nullptr) - 40 * 3600);
    {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.status(), MODPOP3D_OK);
        EXPECT_EQ(list_dir(md + "/tmp"), (std::vector<std::string>{"ageing"}));
    }
    // A delivery through tmp/ changes it: the next login sweeps.
    write_file(md + "/tmp/delivery", "x\n");
    ASSERT_EQ(::unlink((md + "/tmp/delivery").c_str()), 0);
    {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.status(), MODPOP3D_OK);
        EXPECT_TRUE(list_dir(md + "/tmp").empty());
    }
}
