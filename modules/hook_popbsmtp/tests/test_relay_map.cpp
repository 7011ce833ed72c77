// test_relay_map.cpp - the relay map rewriter on its own: formats, expiry,
// the atomic replace (a reader never sees a partial file), many writer
// processes at once (no entry lost), and the map command (success, failure,
// timeout).
#include "relay_map.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace
{

namespace fs = std::filesystem;
namespace pb = modpop3d::popbsmtp;

std::string slurp(const fs::path &p)
{
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

class RelayMap : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/relaymap-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
        s.path = (dir / "relay").string();
    }
    void TearDown() override { fs::remove_all(dir); }
    fs::path dir;
    pb::MapSettings s;
};

TEST(RelayMapText, CanonicalAddresses)
{
    EXPECT_EQ(pb::canonical_addr("127.0.0.2"), "127.0.0.2");
    EXPECT_EQ(pb::canonical_addr("::ffff:192.0.2.1"), "192.0.2.1");
    EXPECT_EQ(pb::canonical_addr("2001:DB8:0:0::1"), "2001:db8::1");
    EXPECT_EQ(pb::canonical_addr("127.0.0.2 OK"), "");
    EXPECT_EQ(pb::canonical_addr("127.0.0.2\n10.0.0.1"), "");
    EXPECT_EQ(pb::canonical_addr("host.example"), "");
    EXPECT_EQ(pb::canonical_addr(""), "");
}

TEST(RelayMapText, FormatsAndRoundTrip)
{
    std::vector<pb::Entry> e{{"127.0.0.2", "alice", 100}, {"2001:db8::1", "bob x", 200}};
    pb::MapSettings s;
    std::string t = pb::render(e, s);
    EXPECT_NE(t.find("\n127.0.0.2\tOK\n"), std::string::npos) << t;
    EXPECT_NE(t.find("\n2001:db8::1\tOK\n"), std::string::npos) << t;
    s.format = pb::Format::sendmail;
    t = pb::render(e, s);
    EXPECT_NE(t.find("\nConnect:127.0.0.2\tRELAY\n"), std::string::npos) << t;
    EXPECT_NE(t.find("\nConnect:IPv6:2001:db8::1\tRELAY\n"), std::string::npos) << t;
    s.format = pb::Format::exim;
    s.value = "popped";
    t = pb::render(e, s);
    EXPECT_NE(t.find("\n\"2001:db8::1\": popped\n"), std::string::npos) << t;
    const auto back = pb::parse(t);
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(back[0].addr, "127.0.0.2");
    EXPECT_EQ(back[0].user, "alice");
    EXPECT_EQ(back[0].expires, 100);
    EXPECT_EQ(back[1].user, "bob x");
    // A newline in a user name cannot start a line of its own.
    t = pb::render({{"127.0.0.3", "evil\n10.0.0.0/8 OK", 300}}, pb::MapSettings{});
    EXPECT_EQ(t.find("\n10.0.0.0/8"), std::string::npos) << t;
}

TEST_F(RelayMap, RecordRefreshesAndExpires)
{
    std::string why;
    pb::Stats st;
    ASSERT_EQ(pb::record(s, "127.0.0.2", "alice", 1000, 60, why, &st), pb::Outcome::written) << why;
    ASSERT_EQ(pb::record(s, "127.0.0.3", "bob", 1010, 60, why, &st), pb::Outcome::written) << why;
    // A second login from 127.0.0.2 refreshes its entry (one line, new expiry).
    ASSERT_EQ(pb::record(s, "127.0.0.2", "carol", 1020, 60, why, &st), pb::Outcome::written);
    auto e = pb::parse(slurp(s.path));
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[1].addr, "127.0.0.2");
    EXPECT_EQ(e[1].user, "carol");
    EXPECT_EQ(e[1].expires, 1080);
    // At 1070 bob's entry (expires 1070) has expired: the next write drops it.
    ASSERT_EQ(pb::record(s, "127.0.0.4", "dave", 1070, 60, why, &st), pb::Outcome::written);
    EXPECT_EQ(st.dropped, 1u);
    const std::string text = slurp(s.path);
    EXPECT_EQ(text.find("127.0.0.3"), std::string::npos) << text;
    EXPECT_NE(text.find("\n127.0.0.2\tOK\n"), std::string::npos) << text;
    // prune: nothing expired - the file is not touched; then everything is.
    const auto mtime = fs::last_write_time(s.path);
    EXPECT_EQ(pb::prune(s, 1075, why, &st), pb::Outcome::unchanged);
    EXPECT_EQ(fs::last_write_time(s.path), mtime);
    EXPECT_EQ(pb::prune(s, 2000, why, &st), pb::Outcome::written);
    EXPECT_EQ(st.dropped, 2u);
    EXPECT_TRUE(pb::parse(slurp(s.path)).empty());
    // No temporary file is left behind; the mode lets an MTA read it.
    for (const auto &de : fs::directory_iterator(dir))
        EXPECT_TRUE(de.path().filename() == "relay" || de.path().filename() == "relay.lock")
            << de.path();
    EXPECT_EQ(fs::status(s.path).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                  fs::perms::others_read);
}

// refresh_s: a login from an address recorded moments ago (by any user)
// leaves the file (and the map command) alone; an old record, a new
// address, or an expired entry elsewhere still rewrite it.
TEST_F(RelayMap, FreshEntriesAreNotRewritten)
{
    const fs::path marker = dir / "built";
    s.command = {"/bin/sh", "-c", "echo x >> \"$0\"", marker.string()};
    s.refresh_s = 60;
    std::string why;
    ASSERT_EQ(pb::record(s, "127.0.0.2", "alice", 1000, 1800, why), pb::Outcome::written) << why;
    ASSERT_EQ(pb::record(s, "127.0.0.9", "zed", 1000, 100, why), pb::Outcome::written) << why;
    EXPECT_EQ(pb::record(s, "127.0.0.2", "alice", 1030, 1800, why), pb::Outcome::unchanged);
    EXPECT_EQ(pb::parse(slurp(s.path))[0].expires, 2800);
    EXPECT_EQ(pb::record(s, "127.0.0.2", "bob", 1031, 1800, why), pb::Outcome::unchanged);
    EXPECT_EQ(pb::record(s, "127.0.0.2", "bob", 1091, 1800, why), pb::Outcome::written);
    // zed's entry expired at 1100: the next login rewrites and drops it.
    EXPECT_EQ(pb::record(s, "127.0.0.2", "bob", 1101, 1800, why), pb::Outcome::written);
    EXPECT_EQ(pb::parse(slurp(s.path)).size(), 1u);
    // The map command ran once per rewrite, never for the skipped logins.
    EXPECT_EQ(slurp(marker), "x\nx\nx\nx\n");
}

TEST_F(RelayMap, PruneCreatesAMissingMap)
{
    std::string why;
    ASSERT_FALSE(fs::exists(s.path));
    EXPECT_EQ(pb::prune(s, 1000, why), pb::Outcome::written) << why;
    EXPECT_TRUE(fs::exists(s.path));
}

TEST_F(RelayMap, RefusesNonAddresses)
{
    std::string why;
    EXPECT_EQ(pb::record(s, "not-an-ip", "alice", 1000, 60, why), pb::Outcome::failed);
    EXPECT_FALSE(fs::exists(s.path));
}

TEST_F(RelayMap, UnwritableDirectoryFailsCleanly)
{
    s.path = (dir / "missing" / "relay").string();
    std::string why;
    EXPECT_EQ(pb::record(s, "127.0.0.2", "alice", 1000, 60, why), pb::Outcome::failed);
    EXPECT_NE(why.find("missing"), std::string::npos) << why;
}

// Many writer processes at once, each adding its own addresses, while a
// reader re-reads the file: every read is a complete file (header first,
// every entry line whole), and at the end no entry is lost.
TEST_F(RelayMap, ConcurrentWritersLoseNothingAndReadersSeeWholeFiles)
{
    constexpr int writers = 6, per_writer = 15;
    std::vector<pid_t> pids;
    for (int w = 0; w < writers; ++w) {
        const pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            int bad = 0;
            for (int i = 0; i < per_writer; ++i) {
                std::string why;
                const std::string addr = "10.0." + std::to_string(w) + "." + std::to_string(i);
                if (pb::record(s, addr, "u" + std::to_string(w), 1000, 3600, why) !=
                    pb::Outcome::written)
                    ++bad;
            }
            _exit(bad == 0 ? 0 : 1);
        }
        pids.push_back(pid);
    }
    int reads = 0, partial = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (bool running = true; running && std::chrono::steady_clock::now() < until;) {
        const std::string t = slurp(s.path);
        if (!t.empty()) {
            ++reads;
            const auto entries = pb::parse(t);
            // Each entry: a marker line and a data line, after the header.
            const auto nlines = static_cast<std::size_t>(std::count(t.begin(), t.end(), '\n'));
            if (!t.starts_with("# modpop3d") || t.back() != '\n' ||
                nlines != 1 + 2 * entries.size())
                ++partial;
        }
        running = false;
        for (pid_t p : pids)
            running = running || kill(p, 0) == 0;
        int status;
        while (waitpid(-1, &status, WNOHANG) > 0) {
        }
    }
    for (pid_t p : pids) {
        int status = 0;
        waitpid(p, &status, 0);
    }
    EXPECT_EQ(partial, 0) << "of " << reads << " reads";
    const auto entries = pb::parse(slurp(s.path));
    std::set<std::string> addrs;
    for (const auto &e : entries)
        addrs.insert(e.addr);
    EXPECT_EQ(addrs.size(), static_cast<std::size_t>(writers * per_writer));
}

TEST_F(RelayMap, MapCommandRunsAfterEachRewrite)
{
    // The command gets no shell: its argument is passed as one word.
    const fs::path marker = dir / "built";
    s.command = {"/usr/bin/touch", marker.string()};
    std::string why;
    ASSERT_EQ(pb::record(s, "127.0.0.2", "alice", 1000, 60, why), pb::Outcome::written) << why;
    EXPECT_TRUE(fs::exists(marker));
    s.command = {"/bin/false"};
    EXPECT_EQ(pb::record(s, "127.0.0.3", "bob", 1000, 60, why), pb::Outcome::command_failed);
    EXPECT_NE(why.find("status 1"), std::string::npos) << why;
    // The file was still replaced.
    EXPECT_EQ(pb::parse(slurp(s.path)).size(), 2u);
}

TEST_F(RelayMap, HangingMapCommandIsKilledAtTheTimeout)
{
    s.command = {"/bin/sleep", "30"};
    s.command_timeout_ms = 300;
    std::string why;
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(pb::record(s, "127.0.0.2", "alice", 1000, 60, why), pb::Outcome::command_failed);
    // Generous bound: killed long before the sleep would end.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
    EXPECT_NE(why.find("timeout"), std::string::npos) << why;
    // And the lock was released: the next writer gets it at once.
    s.command.clear();
    s.lock_timeout_ms = 100;
    EXPECT_EQ(pb::record(s, "127.0.0.3", "bob", 1000, 60, why), pb::Outcome::written) << why;
}

} // namespace
