// test_cache.cpp - the size cache: a second login reads no bodies, UIDLs
// and sizes survive a deleted or corrupted cache, stale entries are not used.
#include "maildir_fixture.hpp"

using namespace maildir_test;
using modpop3d::testing::module_path;

namespace
{

std::string make_box(const TempDir &t, int count)
{
    std::string md = make_maildir(t.path() + "/Maildir");
    for (int i = 0; i < count; ++i) {
        std::string body = "Subject: " + std::to_string(i) + "\n\n" + std::string(i % 7, '\n') +
                           "body " + std::to_string(i * i) + "\r\n";
        deliver(md, std::to_string(1700000000 + i) + ".P" + std::to_string(i) + ".host", body,
                i % 2 == 0 ? "new" : "cur");
    }
    return md;
}

} // namespace

TEST(MaildirCache, SecondOpenReadsNoBodies)
{
    TempDir t;
    std::string md = make_box(t, 40);
    LoadedModule mod(module_path(), {});
    Listing first = list(mod, md);
    EXPECT_NE(last_log(mod, "event=scan").find("size_computed=40"), std::string::npos);
    struct stat st;
    ASSERT_EQ(::stat((md + "/modpop3d-cache").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(st.st_uid, ::geteuid());

    Listing second = list(mod, md);
    EXPECT_EQ(first, second);
    std::string line = last_log(mod, "event=scan");
    EXPECT_NE(line.find("size_computed=0"), std::string::npos) << line;
    EXPECT_NE(line.find("size_from_cache=40"), std::string::npos) << line;
}

TEST(MaildirCache, KnownNamesAreTrustedWithoutStatAndAChangeIsCaughtAtRetr)
{
    // Proof that neither the body nor the inode is looked at: rewrite a
    // message in place (which no Maildir agent does) with another length and
    // mtime. The second login still lists the cached size; RETR serves the
    // real bytes, notices the change and drops the cache; the third login
    // recounts.
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000000.x.host", "aaaa\nbbbb\n"); // POP3 12
    std::string path = md + "/new/1700000000.x.host";
    LoadedModule mod(module_path(), {});
    EXPECT_EQ(list(mod, md).sizes, std::vector<uint64_t>{12});
    EXPECT_NE(last_log(mod, "event=scan").find("cache_trusted=no"), std::string::npos);

    const std::string changed = "a\nb\nc\nd\ne\nffff\n";
    write_file(path, changed);
    set_mtime(path, 1600000000);
    EXPECT_EQ(list(mod, md).sizes, std::vector<uint64_t>{12});
    std::string line = last_log(mod, "event=scan");
    EXPECT_NE(line.find("cache_trusted=yes"), std::string::npos) << line;
    EXPECT_NE(line.find("size_from_cache=1"), std::string::npos) << line;
    {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.scan(), 1u);
        EXPECT_EQ(retrieve_string(mb, 0), changed);
    }
    EXPECT_TRUE(log_has(mod, {"event=message_changed", "action=drop_cache"}));
    EXPECT_EQ(list(mod, md).sizes, std::vector<uint64_t>{pop3_size(changed)});
    EXPECT_NE(last_log(mod, "event=scan").find("size_computed=1"), std::string::npos);
}

TEST(MaildirCache, CacheOfOtherDirectoriesIsCheckedBySizeAndMtime)
{
    // A maildir copied elsewhere (new inodes) keeps its cache file; there an
    // entry is used only when the file's size and mtime still match.
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000000.x.host", "aaaa\nbbbb\n"); // 10 octets, POP3 12
    deliver(md, "1700000001.y.host", "cccc\ndddd\n");
    set_mtime(md + "/new/1700000000.x.host", 1700000000);
    set_mtime(md + "/new/1700000001.y.host", 1700000001);
    LoadedModule mod(module_path(), {});
    EXPECT_EQ(list(mod, md).sizes, (std::vector<uint64_t>{12, 12}));

    std::string copy = t.path() + "/Copy";
    fs::copy(md, copy, fs::copy_options::recursive);
    ::chmod((copy + "/modpop3d-cache").c_str(), 0600);
    const std::string same_len = "a\nb\nc\nd\ne\n"; // 10 octets, POP3 15
    write_file(copy + "/new/1700000000.x.host", same_len);
    set_mtime(copy + "/new/1700000000.x.host", 1700000000); // same size and mtime
    write_file(copy + "/new/1700000001.y.host", same_len);
    set_mtime(copy + "/new/1700000001.y.host", 1700000002); // another mtime
    set_mtime(copy + "/new/1700000001.y.host", 1700000002);
    EXPECT_EQ(list(mod, copy).sizes, (std::vector<uint64_t>{12, pop3_size(same_len)}));
    std::string line = last_log(mod, "event=scan");
    EXPECT_NE(line.find("cache_trusted=no"), std::string::npos) << line;
    EXPECT_NE(line.find("size_computed=1"), std::string::npos) << line;
    // Rewritten for the copy's directories: trusted from now on.
    list(mod, copy);
    EXPECT_NE(last_log(mod, "event=scan").find("cache_trusted=yes"), std::string::npos);
}

TEST(MaildirCache, CacheHeaderRecordsTheDirectoriesAndIsPrivate)
{
    TempDir t;
    std::string md = make_box(t, 4);
    LoadedModule mod(module_path(), {});
    list(mod, md);
    struct stat root, n, c, st;
    ASSERT_EQ(::stat(md.c_str(), &root), 0);
    ASSERT_EQ(::stat((md + "/new").c_str(), &n), 0);
    ASSERT_EQ(::stat((md + "/cur").c_str(), &c), 0);
    std::string text = read_file(md + "/modpop3d-cache");
    std::string header = text.substr(0, text.find('\n'));
    auto ns = [](const struct stat &x) {
        return std::to_string(int64_t(x.st_mtim.tv_sec) * 1000000000 + x.st_mtim.tv_nsec);
    };
    // Identity, trust-w-size, the mtimes of new/ and cur/, listing start,
    // complete.
    const std::string prefix = "modpop3d-cache 4 " + std::to_string(root.st_dev) + " " +
                               std::to_string(root.st_ino) + " " + std::to_string(n.st_ino) + " " +
                               std::to_string(c.st_ino) + " 1 " + ns(n) + " " + ns(c) + " ";
    EXPECT_EQ(header.substr(0, prefix.size()), prefix) << header;
    EXPECT_EQ(header.substr(header.size() - 2), " 1") << header;
    ASSERT_EQ(::lstat((md + "/modpop3d-cache").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_nlink, 1u);
    // No temporary file is left behind (written in tmp/, renamed into place).
    EXPECT_TRUE(list_dir(md + "/tmp").empty());
}

TEST(MaildirCache, DeletedOrCorruptCacheIsRebuiltWithSameUidlsAndSizes)
{
    TempDir t;
    std::string md = make_box(t, 25);
    const std::string cache = md + "/modpop3d-cache";
    LoadedModule mod(module_path(), {});
    Listing ref = list(mod, md);
    ASSERT_EQ(ref.uidls.size(), 25u);

    ASSERT_EQ(::unlink(cache.c_str()), 0);
    EXPECT_EQ(list(mod, md), ref);
    EXPECT_NE(last_log(mod, "event=scan").find("size_computed=25"), std::string::npos);

    std::string good = read_file(cache);
    const std::vector<std::string> damaged = {
        good.substr(0, good.size() / 2),                       // truncated
        "garbage\n",                                           // not a cache
        std::string(good).replace(good.find("end"), 3, "enD"), // bad trailer
        [&] {                                                  // one size digit changed
            std::string s = good;
            auto p = s.find('\n') + 1;
            s[p] = s[p] == '9' ? '8' : char(s[p] + 1);
            return s;
        }(),
        std::string(), // empty file
    };
    for (const std::string &bad : damaged) {
        write_file(cache, bad);
        ::chmod(cache.c_str(), 0600);
        EXPECT_EQ(list(mod, md), ref);
        std::string line = last_log(mod, "event=scan");
        EXPECT_NE(line.find("size_computed=25"), std::string::npos) << line;
        EXPECT_TRUE(log_has(mod, {"event=cache_invalid"}));
        // ... and it was rewritten: the next open uses it again.
        EXPECT_EQ(list(mod, md), ref);
        EXPECT_NE(last_log(mod, "event=scan").find("size_from_cache=25"), std::string::npos);
    }
}

TEST(MaildirCache, GroupReadableOrSymlinkedCacheIsNotTrusted)
{
    TempDir t;
    std::string md = make_box(t, 3);
    const std::string cache = md + "/modpop3d-cache";
    LoadedModule mod(module_path(), {});
    Listing ref = list(mod, md);
    ASSERT_EQ(::chmod(cache.c_str(), 0644), 0);
    EXPECT_EQ(list(mod, md), ref);
    EXPECT_NE(last_log(mod, "event=scan").find("size_computed=3"), std::string::npos);

    // A symlink in place of the cache is replaced, never followed.
    std::string target = t.path() + "/elsewhere";
    write_file(target, read_file(cache));
    ASSERT_EQ(::unlink(cache.c_str()), 0);
    ASSERT_EQ(::symlink(target.c_str(), cache.c_str()), 0);
    EXPECT_EQ(list(mod, md), ref);
    struct stat st;
    ASSERT_EQ(::lstat(cache.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(MaildirCache, DisabledCacheWritesNoFile)
{
    TempDir t;
    std::string md = make_box(t, 3);
    LoadedModule mod(module_path(), {{"size-cache", "no"}});
    Listing a = list(mod, md);
    EXPECT_EQ(a.uidls.size(), 3u);
    EXPECT_NE(::access((md + "/modpop3d-cache").c_str(), F_OK), 0);
}

TEST(MaildirCache, UnchangedSettledDirectoriesGiveTheListingWithoutReadingThem)
{
    TempDir t;
    std::string md = make_box(t, 6);
    // Directories last changed a minute ago: a listing now is "settled".
    auto age_dirs = [&] {
        set_mtime(md + "/new", ::time(nullptr) - 60);
        set_mtime(md + "/cur", ::time(nullptr) - 60);
    };
    age_dirs();
    LoadedModule mod(module_path(), {});
    Listing first = list(mod, md);
    EXPECT_NE(last_log(mod, "event=scan").find("snapshot=no"), std::string::npos);
    Listing second = list(mod, md);
    std::string line = last_log(mod, "event=scan");
    EXPECT_NE(line.find("snapshot=yes"), std::string::npos) << line;
    EXPECT_NE(line.find("size_from_cache=6"), std::string::npos) << line;
    EXPECT_EQ(first, second);
    {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.scan(), 6u);
        EXPECT_EQ(retrieve_string(mb, 5), read_file(md + "/cur/1700000005.P5.host"));
    }

    // A delivery changes new/'s mtime: a full listing again, which sees it.
    deliver(md, "1700000100.P100.host", "late\n");
    Listing third = list(mod, md);
    line = last_log(mod, "event=scan");
    EXPECT_NE(line.find("snapshot=no"), std::string::npos) << line;
    EXPECT_NE(line.find("size_computed=1"), std::string::npos) << line;
    ASSERT_EQ(third.uidls.size(), 7u);
    EXPECT_EQ(third.uidls.back(), "1700000100.P100.host");

    // A flag change by another agent (rename within cur/) changes cur/.
    age_dirs();
    list(mod, md); // settled again
    ASSERT_NE(last_log(mod, "event=scan").find("snapshot=no"), std::string::npos);
    list(mod, md);
    ASSERT_NE(last_log(mod, "event=scan").find("snapshot=yes"), std::string::npos);
    ASSERT_EQ(::rename((md + "/cur/1700000001.P1.host").c_str(),
                       (md + "/cur/1700000001.P1.host:2,FS").c_str()),
              0);
    {
        Mbox mb(mod, md);
        ASSERT_EQ(mb.scan(), 7u);
        EXPECT_NE(last_log(mod, "event=scan").find("snapshot=no"), std::string::npos);
        EXPECT_EQ(retrieve_string(mb, 1), read_file(md + "/cur/1700000001.P1.host:2,FS"));
        // Deleting from a snapshot listing works and is seen next time.
        ASSERT_EQ(mb.commit({1, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0}), MODPOP3D_OK);
    }
    EXPECT_EQ(list(mod, md).uidls.size(), 6u);
}

TEST(MaildirCache, RecentlyChangedDirectoriesAreAlwaysRead)
{
    // Directories changed less than 2 s before the listing: a change right
    // after it could keep the same mtime, so the next login reads them.
    TempDir t;
    std::string md = make_box(t, 3);
    LoadedModule mod(module_path(), {});
    list(mod, md);
    list(mod, md);
    std::string line = last_log(mod, "event=scan");
    EXPECT_NE(line.find("snapshot=no"), std::string::npos) << line;
    EXPECT_NE(line.find("cache_trusted=yes"), std::string::npos) << line;
}

TEST(MaildirCache, SnapshotGivesTheSameUidlsForLongAndOddNames)
{
    // Names served from the cache skip the octet check (the cache loader did
    // it) but not the length rule: a base over 70 octets, or an empty one,
    // still gets the md5 UIDL the first (uncached) listing gave it.
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    const std::string long_base = "1700000001." + std::string(70, 'L') + ".host";
    deliver(md, "1700000000.P0.host", "a\n", "new");
    deliver(md, long_base + ":2,S", "b\n", "cur");
    deliver(md, ":2,S", "c\n", "cur");
    deliver(md, "1700000002." + std::string(59 - 11, 'x') + ".host", "d\n", "cur"); // 70 octets
    set_mtime(md + "/new", ::time(nullptr) - 60);
    set_mtime(md + "/cur", ::time(nullptr) - 60);
    LoadedModule mod(module_path(), {});
    Listing first = list(mod, md);
    ASSERT_NE(last_log(mod, "event=scan").find("snapshot=no"), std::string::npos);
    Listing second = list(mod, md);
    std::string line = last_log(mod, "event=scan");
    ASSERT_NE(line.find("snapshot=yes"), std::string::npos) << line;
    EXPECT_EQ(first, second);
    ASSERT_EQ(second.uidls.size(), 4u);
    for (const std::string &u : second.uidls) {
        EXPECT_FALSE(u.empty());
        EXPECT_LE(u.size(), 70u) << u;
    }
    EXPECT_EQ(std::count_if(second.uidls.begin(), second.uidls.end(),
                            [](const std::string &u) { return u.rfind("md5:", 0) == 0; }),
              2);
}

TEST(MaildirCache, SizesAtChunkBoundariesAndEmptyFilesAreExactAndCached)
{
    // The size count stops at the size fstat gave: check it at 0 octets, at
    // the 64 KiB read size and around it, with bare LFs at the edges.
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    const std::vector<std::size_t> lengths = {0, 1, 65535, 65536, 65537, 131072, 200001};
    std::vector<uint64_t> want;
    for (std::size_t i = 0; i < lengths.size(); ++i) {
        std::string body(lengths[i], 'x');
        for (std::size_t j = 0; j < body.size(); j += 4099)
            body[j] = '\n';
        if (!body.empty())
            body.back() = '\n';
        deliver(md, std::to_string(1700000000 + i) + ".S" + std::to_string(i) + ".host", body,
                "new");
        want.push_back(pop3_size(body));
    }
    LoadedModule mod(module_path(), {});
    EXPECT_EQ(list(mod, md).sizes, want);
    EXPECT_NE(last_log(mod, "event=scan").find("size_computed=7"), std::string::npos);
    EXPECT_EQ(list(mod, md).sizes, want);
    EXPECT_NE(last_log(mod, "event=scan").find("size_from_cache=7"), std::string::npos);
}

TEST(MaildirCache, FirstListingChecksEachFileWhenItOpensItToCount)
{
    // Without a cache, files whose size is not in their name are checked on
    // the descriptor opened to count them (no stat of the name first): the
    // same files must be refused, with the same counts, as by a stat.
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    deliver(md, "1700000001.plain.host", "a\nb\n");
    deliver(md, "1700000002.linked.host", "c\n");
    ASSERT_EQ(::link((md + "/new/1700000002.linked.host").c_str(), (t.path() + "/l").c_str()), 0);
    deliver(md, "1700000003.named.host,S=2,W=3", "d\n", "cur");
    deliver(md, "1700000004.foreign.host", "e\n", "cur");
    const bool root = ::geteuid() == 0;
    if (root) {
        ASSERT_EQ(::chown((md + "/cur/1700000004.foreign.host").c_str(), 4242, 4242), 0);
    }
    // Read but not "accessed": the count opens with O_NOATIME.
    const std::string plain = md + "/new/1700000001.plain.host";
    struct timespec times[2] = {{1000000000, 0}, {1600000000, 0}}; // atime older than mtime
    ASSERT_EQ(::utimensat(AT_FDCWD, plain.c_str(), times, 0), 0);

    LoadedModule mod(module_path(), {{"refuse-hard-links", "yes"}});
    Listing l = list(mod, md);
    const std::string line = last_log(mod, "event=scan");
    EXPECT_NE(line.find("skipped_hard_link=1"), std::string::npos) << line;
    EXPECT_NE(line.find("size_from_name=1"), std::string::npos) << line;
    EXPECT_NE(line.find("errors=0"), std::string::npos) << line;
    if (root) {
        EXPECT_NE(line.find("skipped_foreign_owner=1"), std::string::npos) << line;
        EXPECT_EQ(l.uidls, (std::vector<std::string>{"1700000001.plain.host",
                                                     "1700000003.named.host,S=2,W=3"}));
        EXPECT_EQ(l.sizes, (std::vector<uint64_t>{6, 3}));
    } else {
        EXPECT_EQ(l.uidls.size(), 3u);
    }
    struct stat st;
    ASSERT_EQ(::stat(plain.c_str(), &st), 0);
    EXPECT_EQ(st.st_atim.tv_sec, 1000000000);
    // The same listing from the cache the first one wrote.
    EXPECT_EQ(list(mod, md), l);
}
