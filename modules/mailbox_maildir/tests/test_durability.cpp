// test_durability.cpp - UPDATE makes its work durable (fsync of new/, cur/,
// maildirsize and, after a recount, the maildir), and Maildir++: folders are
// never POP3 messages and maildirsize stays right.
//
// The fsync seam: this executable defines fsync(), exported (export_dynamic
// in meson.build), so the module's calls bind to it first. It records the
// device and inode of every descriptor synced, then calls the C library's.
#include "maildir_fixture.hpp"

#include <dlfcn.h>
#include <mutex>
#include <set>
#include <utility>

using namespace maildir_test;
using modpop3d::testing::module_path;

namespace
{
std::mutex g_sync_mu;
std::set<std::pair<dev_t, ino_t>> g_synced;

std::set<std::pair<dev_t, ino_t>> take_synced()
{
    std::lock_guard<std::mutex> lk(g_sync_mu);
    return std::exchange(g_synced, {});
}

std::pair<dev_t, ino_t> id_of(const std::string &path)
{
    struct stat st {
    };
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return {st.st_dev, st.st_ino};
}
} // namespace

extern "C" int fsync(int fd)
{
    struct stat st {
    };
    if (::fstat(fd, &st) == 0) {
        std::lock_guard<std::mutex> lk(g_sync_mu);
        g_synced.insert({st.st_dev, st.st_ino});
    }
    using Fn = int (*)(int);
    static Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "fsync"));
    return real != nullptr ? real(fd) : 0;
}

TEST(MaildirDurability, UpdateSyncsNewCurAndMaildirsize)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    write_file(md + "/maildirsize", "1000000S,1000C\n30 3\n");
    ::chmod((md + "/maildirsize").c_str(), 0600);
    deliver(md, "1700000001.a.host", "deleted from new\n");
    deliver(md, "1700000002.b.host", "retrieved: new -> cur\n");
    LoadedModule mod(module_path(), {});
    {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.scan(), 2u);
        take_synced();
        ASSERT_EQ(mb.commit({1, 0}, {0, 1}), MODPOP3D_OK);
    }
    auto synced = take_synced();
    EXPECT_TRUE(synced.count(id_of(md + "/new"))) << "new/ not synced after unlink and rename";
    EXPECT_TRUE(synced.count(id_of(md + "/cur"))) << "cur/ not synced after rename";
    EXPECT_TRUE(synced.count(id_of(md + "/maildirsize"))) << "maildirsize line not synced";
    EXPECT_EQ(list_dir(md + "/cur"), std::vector<std::string>{"1700000002.b.host:2,S"});

    // A deletion in cur/ only: cur/ is synced.
    {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.scan(), 1u);
        take_synced();
        ASSERT_EQ(mb.commit({1}, {0}), MODPOP3D_OK);
    }
    synced = take_synced();
    EXPECT_TRUE(synced.count(id_of(md + "/cur")));
    EXPECT_TRUE(list_dir(md + "/cur").empty());
}

TEST(MaildirDurability, NothingChangedNothingSynced)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000001.a.host", "a\n");
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 1u);
    take_synced();
    ASSERT_EQ(mb.commit({0}, {0}), MODPOP3D_OK);
    EXPECT_TRUE(take_synced().empty());
}

namespace
{
// A Maildir++ tree: INBOX messages plus .Sent and .Trash folders.
std::string make_plusplus(const TempDir &t)
{
    std::string md = make_maildir(t.path() + "/Maildir");
    make_maildir(md + "/.Sent");
    make_maildir(md + "/.Trash");
    write_file(md + "/.Sent/maildirfolder", "");
    deliver(md + "/.Sent", "1600000001.s.host,S=1000", "sent message\n", "cur");
    deliver(md + "/.Trash", "1600000002.t.host", "0123456789\n", "new"); // 11 octets
    deliver(md, "1700000001.a.host,S=500", "inbox a\n");
    deliver(md, "1700000002.b.host", "inbox b!\n", "cur"); // 9 octets
    deliver(md, "1700000003.c.host", "inbox c\n");         // 8 octets
    return md;
}
} // namespace

TEST(MaildirPlusPlus, FoldersAreNeverListed)
{
    TempDir t;
    std::string md = make_plusplus(t);
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 3u);
    EXPECT_EQ(mb.uidl(0), "1700000001.a.host,S=500");
    EXPECT_EQ(mb.uidl(1), "1700000002.b.host");
    EXPECT_EQ(mb.uidl(2), "1700000003.c.host");
    EXPECT_TRUE(log_has(mod, {"event=scan", "skipped_not_regular=0"}));
}

TEST(MaildirPlusPlus, FreshSmallMaildirsizeIsAppendedTo)
{
    TempDir t;
    std::string md = make_plusplus(t);
    const std::string head = "100000S,100C\n1528 5\n";
    write_file(md + "/maildirsize", head);
    ::chmod((md + "/maildirsize").c_str(), 0600);
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 3u);
    ASSERT_EQ(mb.commit({1, 0, 0}, {0, 0, 0}), MODPOP3D_OK);
    EXPECT_EQ(read_file(md + "/maildirsize"), head + "-500 -1\n");
    EXPECT_FALSE(log_has(mod, {"event=maildirsize_recalculated"}));
}

TEST(MaildirPlusPlus, LargeMaildirsizeIsRecalculatedCountingFolders)
{
    TempDir t;
    std::string md = make_plusplus(t);
    // Many delta lines, as years of deliveries leave: >= 5120 bytes.
    std::string text = "100000S,100C\n";
    while (text.size() < 5200)
        text += "  1234     1\n -1234    -1\n";
    write_file(md + "/maildirsize", text);
    ::chmod((md + "/maildirsize").c_str(), 0600);
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 3u);
    ASSERT_EQ(mb.commit({0, 0, 1}, {0, 0, 0}), MODPOP3D_OK); // deletes c (8 octets)
    // Left: a (S=500), b (9), .Sent (S=1000), .Trash (11) = 1520 bytes, 4 messages.
    EXPECT_EQ(read_file(md + "/maildirsize"), "100000S,100C\n1520 4\n");
    EXPECT_TRUE(log_has(mod, {"event=maildirsize_recalculated", "reason=size"}));
    struct stat st {
    };
    ASSERT_EQ(::stat((md + "/maildirsize").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_TRUE(list_dir(md + "/tmp").empty());
}

TEST(MaildirPlusPlus, StaleOverQuotaMaildirsizeIsRecalculatedAndSynced)
{
    TempDir t;
    std::string md = make_plusplus(t);
    // Says 999999 bytes (over the 100000 quota) and is 20 minutes old.
    write_file(md + "/maildirsize", "100000S\n999999 5\n");
    ::chmod((md + "/maildirsize").c_str(), 0600);
    set_mtime(md + "/maildirsize", ::time(nullptr) - 20 * 60);
    LoadedModule mod(module_path(), {});
    {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.scan(), 3u);
        take_synced();
        ASSERT_EQ(mb.commit({1, 0, 0}, {0, 0, 0}), MODPOP3D_OK); // deletes a (S=500)
    }
    EXPECT_EQ(read_file(md + "/maildirsize"), "100000S\n1028 4\n");
    EXPECT_TRUE(log_has(mod, {"event=maildirsize_recalculated", "reason=stale"}));
    auto synced = take_synced();
    EXPECT_TRUE(synced.count(id_of(md))) << "maildir not synced after the rename";
    EXPECT_TRUE(synced.count(id_of(md + "/maildirsize"))) << "recount not synced";

    // Over quota but fresh: only appended (a deliverer just wrote it).
    write_file(md + "/maildirsize", "100S\n999999 5\n");
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 2u);
    ASSERT_EQ(mb.commit({1, 0}, {0, 0}), MODPOP3D_OK); // deletes b (9)
    EXPECT_EQ(read_file(md + "/maildirsize"), "100S\n999999 5\n-9 -1\n");
}

TEST(MaildirPlusPlus, MalformedMaildirsizeIsRecalculated)
{
    TempDir t;
    std::string md = make_plusplus(t);
    write_file(md + "/maildirsize", "100000S,100C\n12 x\n");
    ::chmod((md + "/maildirsize").c_str(), 0600);
    LoadedModule mod(module_path(), {});
    Mbox mb(mod, md);
    ASSERT_EQ(mb.scan(), 3u);
    ASSERT_EQ(mb.commit({0, 1, 0}, {0, 0, 0}), MODPOP3D_OK); // deletes b (9)
    EXPECT_EQ(read_file(md + "/maildirsize"), "100000S,100C\n1519 4\n");
}
