// test_parallel.cpp - sizes counted by several threads (size-threads) on a
// listing with many files to read: the same listing as one thread, exact
// against an independent computation, the same files skipped, and nothing
// lost while another agent renames and deletes messages during the scan.
#include "maildir_fixture.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

using namespace maildir_test;
using modpop3d::testing::module_path;

namespace
{

// Enough files to count that count_parallel() starts its threads (it
// needs 256 per thread).
constexpr int kMessages = 3000;

// body - bare LFs, CRLFs, a lone CR, with and without a final newline.
std::string body(int i)
{
    std::string b = "Subject: " + std::to_string(i) + (i % 3 == 0 ? "\r\n" : "\n") + "\n";
    b += std::string(std::size_t(i % 11), '\n');
    b += "line with a lone \r inside " + std::to_string(i * 7) + "\r\n";
    if (i % 5 != 0)
        b += "last line\n";
    else
        b += "no newline at the end";
    return b;
}

// make_box - kMessages messages: a third named with a correct ,S=,W=, a
// few with a ,W= too small to be true (counted from the file), the rest
// plain; half in cur/ with flags. Returns base name -> POP3 size.
std::map<std::string, uint64_t> make_box(const std::string &md)
{
    std::map<std::string, uint64_t> want;
    for (int i = 0; i < kMessages; ++i) {
        const std::string b = body(i);
        const uint64_t size = pop3_size(b);
        std::string base = std::to_string(1700000000 + i) + ".M" + std::to_string(i) + "P9.host";
        if (i % 3 == 1)
            base += ",S=" + std::to_string(b.size()) + ",W=" + std::to_string(size);
        else if (i % 97 == 2)
            base += ",W=1"; // implausible: below the file size
        want[base] = size;
        const bool cur = i % 2 == 0;
        deliver(md, base + (cur ? ":2,S" : ""), b, cur ? "cur" : "new");
    }
    return want;
}

// path_of - where make_box() delivered `base`.
std::string path_of(const std::string &md, const std::string &base)
{
    const int n = std::atoi(base.c_str() + 4);
    return n % 2 == 0 ? md + "/cur/" + base + ":2,S" : md + "/new/" + base;
}

std::string field(const std::string &line, const std::string &key)
{
    auto p = line.find(" " + key + "=");
    if (p == std::string::npos)
        return "?";
    p += key.size() + 2;
    return line.substr(p, line.find(' ', p) - p);
}

} // namespace

TEST(MaildirParallel, ThreadsGiveTheSerialListingWithExactSizes)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    const auto want = make_box(md);

    LoadedModule serial(module_path(), {{"size-threads", "1"}, {"size-cache", "no"}});
    LoadedModule parallel(module_path(), {{"size-threads", "8"}, {"size-cache", "no"}});
    const Listing one = list(serial, md);
    const std::string one_log = last_log(serial, "event=scan");
    const Listing many = list(parallel, md);
    const std::string many_log = last_log(parallel, "event=scan");

    ASSERT_EQ(one.uidls.size(), std::size_t(kMessages));
    EXPECT_TRUE(one == many);
    for (std::size_t i = 0; i < many.uidls.size(); ++i) {
        auto it = want.find(many.uidls[i]);
        ASSERT_NE(it, want.end()) << many.uidls[i];
        EXPECT_EQ(many.sizes[i], it->second) << many.uidls[i];
    }
    for (const char *key : {"size_from_name", "size_computed", "vanished", "errors"})
        EXPECT_EQ(field(one_log, key), field(many_log, key)) << key;
    EXPECT_EQ(field(many_log, "size_from_name"), "1000");
    EXPECT_EQ(field(many_log, "size_computed"), "2000");
}

TEST(MaildirParallel, CacheWrittenByThreadsServesTheSecondLogin)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    const auto want = make_box(md);
    LoadedModule mod(module_path(), {{"size-threads", "4"}});
    const Listing first = list(mod, md);
    const Listing second = list(mod, md);
    EXPECT_TRUE(first == second);
    EXPECT_EQ(field(last_log(mod, "event=scan"), "size_computed"), "0");
    ASSERT_EQ(second.uidls.size(), want.size());
    for (std::size_t i = 0; i < second.uidls.size(); ++i)
        EXPECT_EQ(second.sizes[i], want.at(second.uidls[i]));
}

TEST(MaildirParallel, RefusedFilesAreSkippedAsBySerialScan)
{
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to give files another owner";
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    auto want = make_box(md);
    // Foreign owners, plain and with ,W=; a hard link; a symlink; a directory.
    int foreign = 0;
    for (const auto &[base, size] : want) {
        const int n = std::atoi(base.c_str() + 4); // 1700000000 + n
        if (n % 125 != 17)
            continue;
        ASSERT_EQ(::chown(path_of(md, base).c_str(), 54321, 54321), 0) << base;
        ++foreign;
    }
    ASSERT_EQ(foreign, kMessages / 125);
    ASSERT_EQ(::link(path_of(md, want.begin()->first).c_str(), (t.path() + "/x").c_str()), 0);
    ASSERT_EQ(::symlink("/etc/passwd", (md + "/new/1800000000.M1P1.host").c_str()), 0);
    ASSERT_EQ(::mkdir((md + "/new/1800000001.M1P1.host").c_str(), 0700), 0);

    for (const char *refuse : {"no", "yes"}) {
        LoadedModule serial(
            module_path(),
            {{"size-threads", "1"}, {"size-cache", "no"}, {"refuse-hard-links", refuse}});
        LoadedModule parallel(
            module_path(),
            {{"size-threads", "6"}, {"size-cache", "no"}, {"refuse-hard-links", refuse}});
        const Listing one = list(serial, md);
        const std::string one_log = last_log(serial, "event=scan");
        const Listing many = list(parallel, md);
        const std::string many_log = last_log(parallel, "event=scan");
        EXPECT_TRUE(one == many) << refuse;
        const std::size_t expect =
            want.size() - std::size_t(foreign) - (std::string(refuse) == "yes" ? 1 : 0);
        EXPECT_EQ(many.uidls.size(), expect) << refuse;
        EXPECT_EQ(field(many_log, "skipped_foreign_owner"), std::to_string(foreign));
        for (const char *key :
             {"size_from_name", "size_computed", "skipped_symlink", "skipped_not_regular",
              "skipped_foreign_owner", "skipped_hard_link", "vanished", "errors"})
            EXPECT_EQ(field(one_log, key), field(many_log, key)) << key << " refuse=" << refuse;
        for (std::size_t i = 0; i < many.uidls.size(); ++i)
            EXPECT_EQ(many.sizes[i], want.at(many.uidls[i]));
    }
}

TEST(MaildirParallel, RenamesAndDeletionsDuringScansLoseNothing)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    const auto want = make_box(md);
    // Another agent moves every message of new/ to cur/ (marking it seen)
    // and deletes every 13th one, while sessions list the maildir.
    std::set<std::string> doomed;
    std::vector<std::string> in_new;
    for (const auto &[base, size] : want) {
        const int n = std::atoi(base.c_str() + 4);
        if (n % 2 == 1)
            in_new.push_back(base);
        if (n % 13 == 0)
            doomed.insert(base);
    }
    std::atomic<bool> done{false};
    std::thread agent([&] {
        std::size_t k = 0;
        for (const std::string &base : in_new) {
            if (++k % 16 == 0) // spread over several scans
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            const std::string from = md + "/new/" + base;
            if (doomed.count(base) != 0)
                ::unlink(from.c_str());
            else
                ::rename(from.c_str(), (md + "/cur/" + base + ":2,S").c_str());
        }
        for (const std::string &base : doomed)
            ::unlink((md + "/cur/" + base + ":2,S").c_str());
        done = true;
    });

    LoadedModule mod(module_path(), {{"size-threads", "4"}, {"size-cache", "no"}});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int scans = 0;
    bool last = false;
    while (!last && scans < 200 && std::chrono::steady_clock::now() < deadline) {
        last = done.load();
        const Listing l = list(mod, md);
        ++scans;
        // A message deleted under the scan is "vanished", never an error.
        EXPECT_EQ(field(last_log(mod, "event=scan"), "errors"), "0") << "scan " << scans;
        std::set<std::string> seen;
        for (std::size_t i = 0; i < l.uidls.size(); ++i) {
            auto it = want.find(l.uidls[i]);
            ASSERT_NE(it, want.end()) << l.uidls[i];
            EXPECT_EQ(l.sizes[i], it->second) << l.uidls[i];
            EXPECT_TRUE(seen.insert(l.uidls[i]).second) << "listed twice: " << l.uidls[i];
        }
        // Renamed messages are found again: only deleted ones may be missing.
        for (const auto &[base, size] : want) {
            if (doomed.count(base) == 0) {
                ASSERT_EQ(seen.count(base), 1u) << "lost " << base << " in scan " << scans;
            }
        }
        if (last) {
            EXPECT_EQ(l.uidls.size(), want.size() - doomed.size());
        }
    }
    agent.join();
    EXPECT_TRUE(last) << "the agent did not finish in time";
    EXPECT_GE(scans, 1);
}
