// test_parser.cpp - the configuration reader: syntax, sections, includes.
#include "config/parser.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

namespace fs = std::filesystem;
using namespace modpop3d::config;

namespace
{

class TempDir
{
  public:
    TempDir()
    {
        char tmpl[] = "/tmp/modpop3d-parser-XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path_); }
    fs::path operator/(const std::string &name) const { return path_ / name; }
    void write(const std::string &name, const std::string &text) const
    {
        fs::create_directories((path_ / name).parent_path());
        std::ofstream(path_ / name) << text;
    }

  private:
    fs::path path_;
};

} // namespace

TEST(Parser, KeysSectionsAndComments)
{
    Diagnostics d;
    auto c = parse_string("# comment\n"
                          "listen: 127.0.0.1:110\n"
                          "\n"
                          "  log-level :  debug  \n"
                          "[auth_flatfile]\n"
                          "file: /etc/users # not a comment\n"
                          "[auth_sql/customers]\n"
                          "host: db\n",
                          "main.conf", d);
    ASSERT_TRUE(d.empty()) << d.lines().front();
    ASSERT_EQ(c.sections.size(), 3u);
    EXPECT_EQ(c.sections[0].module, "");
    ASSERT_EQ(c.sections[0].entries.size(), 2u);
    EXPECT_EQ(c.sections[0].entries[1].key, "log-level");
    EXPECT_EQ(c.sections[0].entries[1].value, "debug");
    EXPECT_EQ(c.sections[0].entries[1].where.line, 4);
    EXPECT_EQ(c.sections[1].label(), "auth_flatfile");
    EXPECT_EQ(c.sections[1].entries[0].value, "/etc/users # not a comment");
    EXPECT_EQ(c.sections[2].module, "auth_sql");
    EXPECT_EQ(c.sections[2].instance, "customers");
    EXPECT_EQ(c.sections[2].where.str(), "main.conf:7");
}

TEST(Parser, ErrorsNameFileAndLine)
{
    Diagnostics d;
    parse_string("listen 110\n[Auth-PAM]\n[auth_pam/bad name]\n[auth_pam\n[auth_pam]\n[auth_pam]\n",
                 "x.conf", d);
    ASSERT_EQ(d.size(), 5u);
    EXPECT_NE(d.lines()[0].find("x.conf:1: expected 'key: value'"), std::string::npos);
    EXPECT_NE(d.lines()[1].find("x.conf:2: bad section name 'Auth-PAM'"), std::string::npos);
    EXPECT_NE(d.lines()[2].find("x.conf:3: bad instance name"), std::string::npos);
    EXPECT_NE(d.lines()[3].find("x.conf:4: section header must end"), std::string::npos);
    EXPECT_NE(d.lines()[4].find("x.conf:6: section [auth_pam] already defined at x.conf:5"),
              std::string::npos);
}

TEST(Parser, IncludesInLexicalOrderSkippingLeftovers)
{
    TempDir dir;
    dir.write("main.conf", "log-level: info\n[mailbox_maildir]\ninclude conf.d/*.conf\n"
                           "after: include\n");
    dir.write("conf.d/20-b.conf", "[auth_b]\nk: 2\n");
    dir.write("conf.d/10-a.conf", "top: 1\n[auth_a]\nk: 1\n");
    dir.write("conf.d/.hidden.conf", "[auth_hidden]\n");
    dir.write("conf.d/30-c.conf~", "[auth_backup]\n");
    dir.write("conf.d/40-d.conf.dpkg-dist", "[auth_dpkg]\n");
    dir.write("conf.d/50-e.txt", "[auth_txt]\n");
    Diagnostics d;
    auto c = parse_file((dir / "main.conf").string(), d);
    ASSERT_TRUE(d.empty()) << d.lines().front();
    std::vector<std::string> labels;
    for (const auto &s : c.sections)
        labels.push_back(s.label());
    EXPECT_EQ(labels, (std::vector<std::string>{"", "mailbox_maildir", "auth_a", "auth_b"}));
    // An included file starts in the global section...
    EXPECT_EQ(c.sections[0].entries.back().key, "top");
    // ...and the including file goes on in the section it was in.
    EXPECT_EQ(c.sections[1].entries.back().key, "after");
    EXPECT_EQ(c.sections[2].entries[0].where.str(), (dir / "conf.d/10-a.conf").string() + ":3");
}

TEST(Parser, IncludeLoopsAndMissingFiles)
{
    TempDir dir;
    dir.write("a.conf", "include b.conf\n");
    dir.write("b.conf", "include a.conf\n");
    dir.write("c.conf", "include nothere.conf\ninclude empty.d/*.conf\n");
    Diagnostics d;
    parse_file((dir / "a.conf").string(), d);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_NE(d.lines()[0].find("include loop"), std::string::npos);
    EXPECT_NE(d.lines()[0].find("b.conf:1"), std::string::npos);

    Diagnostics d2;
    parse_file((dir / "c.conf").string(), d2);
    ASSERT_EQ(d2.size(), 1u); // a missing pattern directory is not an error
    EXPECT_NE(d2.lines()[0].find("c.conf:1: cannot read included file"), std::string::npos);

    Diagnostics d3;
    parse_file((dir / "none.conf").string(), d3);
    ASSERT_EQ(d3.size(), 1u);
    EXPECT_NE(d3.lines()[0].find("cannot read the configuration file"), std::string::npos);
}

TEST(Parser, ModuleNamesAreSafeFileStems)
{
    EXPECT_TRUE(is_valid_module_name("auth_pam"));
    EXPECT_TRUE(is_valid_module_name("mailbox_maildir2"));
    EXPECT_FALSE(is_valid_module_name("../auth"));
    EXPECT_FALSE(is_valid_module_name("auth.pam"));
    EXPECT_FALSE(is_valid_module_name("Auth"));
    EXPECT_FALSE(is_valid_module_name("1auth"));
    EXPECT_FALSE(is_valid_module_name(""));
}
