// passwd_file_test.cpp - auth_flatfile's parser and file cache without a host:
// field rules, malformed lines with their line numbers, reload on change,
// refusal of world-writable files, and the missing-file states.
#include "file_cache.hpp"
#include "passwd_file.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace modpop3d::flatfile;

namespace
{

TEST(PasswdFile, FieldsAndDefaults)
{
    std::vector<Problem> problems;
    const Table t =
        parse_passwd("# comment\n"
                     "\n"
                     "   \t\n"
                     "alice:$y$j9T$abc:5000:5001:/srv/alice:maildir:/srv/alice/Maildir\n"
                     "bob:{PLAIN}pw\r\n"
                     "carol:{PLAIN}pw::::bsd:/var/mail/carol bsd:/x/$(user)\n"
                     "  # indented comment\n"
                     "dave:{SCRAM-SHA-256}4096:c2FsdA==:AAAA:BBBB:7:8::\n"
                     "erin:{scram-sha-256}4096:c2FsdA==:AAAA:BBBB\n",
                     false, problems);
    EXPECT_TRUE(problems.empty());
    ASSERT_EQ(t.users.size(), 5u);
    const Entry &a = t.users.at("alice");
    EXPECT_EQ(a.secret, "$y$j9T$abc");
    EXPECT_EQ(a.uid, 5000u);
    EXPECT_EQ(a.gid, 5001u);
    EXPECT_EQ(a.home, "/srv/alice");
    EXPECT_EQ(a.mailbox, "maildir:/srv/alice/Maildir");
    EXPECT_EQ(a.line, 4u);
    const Entry &b = t.users.at("bob");
    EXPECT_EQ(b.secret, "{PLAIN}pw"); // CR removed
    EXPECT_FALSE(b.uid.has_value());
    EXPECT_FALSE(b.gid.has_value());
    EXPECT_EQ(b.home, "");
    EXPECT_EQ(b.mailbox, "");
    EXPECT_EQ(t.users.at("carol").mailbox, "bsd:/var/mail/carol bsd:/x/$(user)");
    const Entry &d = t.users.at("dave");
    EXPECT_EQ(d.secret, "{SCRAM-SHA-256}4096:c2FsdA==:AAAA:BBBB");
    EXPECT_EQ(d.uid, 7u);
    EXPECT_EQ(d.gid, 8u);
    EXPECT_EQ(t.users.at("erin").secret, "{scram-sha-256}4096:c2FsdA==:AAAA:BBBB");
}

TEST(PasswdFile, MalformedLinesAreSkippedWithTheirLineNumbers)
{
    std::vector<Problem> problems;
    const std::string text = "ok1:{PLAIN}a\n"          // 1
                             "nosecret\n"              // 2 empty secret
                             "empty::\n"               // 3 empty secret
                             ":{PLAIN}x\n"             // 4 empty name
                             " lead:{PLAIN}x\n"        // 5 blank in name
                             "u1:{PLAIN}x:abc\n"       // 6 bad uid
                             "u2:{PLAIN}x:0\n"         // 7 uid 0
                             "u3:{PLAIN}x:5:0\n"       // 8 gid 0
                             "u4:{PLAIN}x:5:5:rel\n"   // 9 relative home
                             "u5:{PLAIN}x:-1\n"        // 10 negative uid
                             "ok1:{PLAIN}b\n"          // 11 duplicate
                             + std::string(300, 'n') + // 12 long name
                             ":{PLAIN}x\n" + std::string("nul\0x:{PLAIN}x\n", 15) + // 13
                             "ok2:{PLAIN}c\n";                                      // 14
    const Table t = parse_passwd(text, false, problems);
    EXPECT_EQ(t.users.size(), 2u);
    EXPECT_EQ(t.users.at("ok1").secret, "{PLAIN}a");
    EXPECT_EQ(t.users.at("ok2").line, 14u);
    std::vector<unsigned> lines;
    for (const auto &p : problems)
        lines.push_back(p.line);
    EXPECT_EQ(lines, (std::vector<unsigned>{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}));
}

TEST(PasswdFile, LowercaseFoldsNames)
{
    std::vector<Problem> problems;
    const Table t = parse_passwd("Alice:{PLAIN}a\nALICE:{PLAIN}b\n", true, problems);
    ASSERT_EQ(t.users.size(), 1u);
    EXPECT_EQ(t.users.at("alice").secret, "{PLAIN}a");
    EXPECT_EQ(problems.size(), 1u);
    EXPECT_EQ(ascii_lower("AbC@Ex.ORG"), "abc@ex.org");
}

TEST(PasswdFile, ValidNames)
{
    EXPECT_TRUE(valid_name("a"));
    EXPECT_TRUE(valid_name("alice@example.org"));
    EXPECT_TRUE(valid_name(std::string(255, 'a')));
    EXPECT_FALSE(valid_name(std::string(256, 'a')));
    EXPECT_FALSE(valid_name(""));
    EXPECT_FALSE(valid_name("a b"));
    EXPECT_FALSE(valid_name("a:b"));
    EXPECT_FALSE(valid_name("a\tb"));
    EXPECT_FALSE(valid_name("a\x7f"));
    EXPECT_FALSE(valid_name(std::string("a\0b", 3)));
}

class Cache : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/modpop3d-flatfile-cache.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/users";
    }
    void TearDown() override
    {
        std::remove(path_.c_str());
        std::remove((dir_ + "/new").c_str());
        rmdir((dir_ + "/sub").c_str());
        rmdir(dir_.c_str());
    }
    void write(const std::string &path, const std::string &text, mode_t mode = 0640)
    {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
        chmod(path.c_str(), mode);
    }
    FileCache::Result get(FileCache &c, uint64_t now)
    {
        return c.get(path_, now, [this](const std::string &, unsigned line, const std::string &w) {
            reports_.push_back(std::to_string(line) + " " + w);
        });
    }
    std::string dir_, path_;
    std::vector<std::string> reports_;
};

TEST_F(Cache, ReloadsWhenTheFileChangesButNotBeforeTheInterval)
{
    FileCache cache(1000000, false, false);
    write(path_, "a:{PLAIN}1\n");
    auto r = get(cache, 10);
    ASSERT_EQ(r.status, FileCache::Status::ok);
    EXPECT_EQ(r.table->users.count("a"), 1u);
    const auto first = r.table;

    write(path_, "b:{PLAIN}2\nbad\n"); // different size: a change
    r = get(cache, 20);                // within the interval: the old table
    ASSERT_EQ(r.status, FileCache::Status::ok);
    EXPECT_EQ(r.table, first);
    r = get(cache, 10 + 1000000); // interval over: re-read
    ASSERT_EQ(r.status, FileCache::Status::ok);
    EXPECT_EQ(r.table->users.count("a"), 0u);
    EXPECT_EQ(r.table->users.count("b"), 1u);
    EXPECT_EQ(first->users.count("a"), 1u); // the old table is untouched
    EXPECT_NE(std::find(reports_.begin(), reports_.end(), "2 empty password field"),
              reports_.end());

    // Replaced by rename (new inode), same size: re-read too.
    write(dir_ + "/new", "c:{PLAIN}3\nbad\n");
    ASSERT_EQ(rename((dir_ + "/new").c_str(), path_.c_str()), 0);
    r = get(cache, 10 + 3000000);
    ASSERT_EQ(r.status, FileCache::Status::ok);
    EXPECT_EQ(r.table->users.count("c"), 1u);
    // Unchanged: the same table again.
    const auto same = r.table;
    r = get(cache, 10 + 5000000);
    EXPECT_EQ(r.table, same);
}

TEST_F(Cache, RefusesWorldWritableAndReportsMissing)
{
    FileCache cache(0, false, false);
    auto r = get(cache, 1);
    EXPECT_EQ(r.status, FileCache::Status::missing);
    EXPECT_TRUE(r.first_report);
    r = get(cache, 2);
    EXPECT_EQ(r.status, FileCache::Status::missing);
    EXPECT_FALSE(r.first_report); // logged once, not at every login

    write(path_, "a:{PLAIN}1\n", 0666);
    chmod(path_.c_str(), 0666); // past the umask
    r = get(cache, 3);
    EXPECT_EQ(r.status, FileCache::Status::error);
    EXPECT_NE(r.error.find("world-writable"), std::string::npos);
    EXPECT_EQ(r.table, nullptr);

    chmod(path_.c_str(), 0640);
    r = get(cache, 4);
    ASSERT_EQ(r.status, FileCache::Status::ok);
    EXPECT_EQ(r.table->users.count("a"), 1u);

    // Made world-writable after loading: noticed at the next check (ctime).
    chmod(path_.c_str(), 0666);
    r = get(cache, 5);
    EXPECT_EQ(r.status, FileCache::Status::error);
}

TEST_F(Cache, DirectoryIsMissingForTemplatesAndAnErrorOtherwise)
{
    ASSERT_EQ(mkdir((dir_ + "/sub").c_str(), 0755), 0);
    FileCache templ(0, false, true), fixed(0, false, false);
    auto noop = [](const std::string &, unsigned, const std::string &) {};
    EXPECT_EQ(templ.get(dir_ + "/sub", 1, noop).status, FileCache::Status::missing);
    EXPECT_EQ(fixed.get(dir_ + "/sub", 1, noop).status, FileCache::Status::error);
}

} // namespace
