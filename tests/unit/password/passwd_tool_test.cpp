// passwd_tool_test.cpp - run the built modpop3d-passwd (path in
// MODPOP3D_PASSWD) with --stdin and check that what it prints verifies with
// password_verify().
#include "password/password.hpp"

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <modpop3d/status.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace
{

struct ToolRun {
    int status = -1;
    std::string out;
};

class PasswdTool : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        const char *p = std::getenv("MODPOP3D_PASSWD");
        ASSERT_NE(p, nullptr) << "MODPOP3D_PASSWD is not set (run through meson test)";
        tool_ = p;
        char tmpl[] = "/tmp/modpop3d-passwd-test.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override
    {
        std::remove((dir_ + "/in").c_str());
        rmdir(dir_.c_str());
    }

    // run - the tool with `args`, stdin from a file holding `input`, stderr
    // discarded; returns the exit status and stdout.
    ToolRun run(const std::string &args, const std::string &input)
    {
        const std::string in = dir_ + "/in";
        std::ofstream(in, std::ios::binary) << input;
        const std::string cmd = "'" + tool_ + "' " + args + " < '" + in + "' 2>/dev/null";
        ToolRun r;
        FILE *f = popen(cmd.c_str(), "r");
        if (f == nullptr)
            return r;
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
            r.out.append(buf, n);
        const int st = pclose(f);
        r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        return r;
    }

    std::string tool_, dir_;
};

TEST_F(PasswdTool, EverySchemeVerifies)
{
    for (const auto &scheme : modpop3d::password::password_hash_schemes()) {
        const ToolRun r = run("--stdin -s " + scheme + " alice@example.org", "tr0ub4dor &3\n");
        ASSERT_EQ(r.status, 0) << scheme;
        ASSERT_TRUE(r.out.starts_with("alice@example.org:")) << r.out;
        ASSERT_TRUE(r.out.ends_with("\n")) << r.out;
        const std::string hash = r.out.substr(18, r.out.size() - 19);
        EXPECT_EQ(modpop3d::password::password_verify(hash, "tr0ub4dor &3"), MODPOP3D_OK)
            << scheme << ": " << hash;
        EXPECT_EQ(modpop3d::password::password_verify(hash, "tr0ub4dor &4"), MODPOP3D_E_BADPASS);
    }
}

TEST_F(PasswdTool, DefaultIsYescryptAndHashOnlyWithoutUser)
{
    const ToolRun r = run("--stdin", "pw with CRLF\r\n");
    ASSERT_EQ(r.status, 0);
    ASSERT_TRUE(r.out.starts_with("$y$")) << r.out;
    const std::string hash = r.out.substr(0, r.out.size() - 1);
    EXPECT_EQ(hash.find(':'), std::string::npos);
    EXPECT_EQ(modpop3d::password::password_verify(hash, "pw with CRLF"), MODPOP3D_OK);
}

TEST_F(PasswdTool, RefusesBadInput)
{
    EXPECT_EQ(run("--stdin", "\n").status, 1);                          // empty password
    EXPECT_EQ(run("--stdin", "").status, 1);                            // nothing at all
    EXPECT_EQ(run("--stdin -s nosuch", "pw\n").status, 2);              // unknown scheme
    EXPECT_EQ(run("--stdin 'a:b'", "pw\n").status, 2);                  // ':' in the user
    EXPECT_EQ(run("--stdin 'a b'", "pw\n").status, 2);                  // blank in the user
    EXPECT_EQ(run("--stdin one two", "pw\n").status, 2);                // two users
    EXPECT_EQ(run("--stdin", std::string(2000, 'x') + "\n").status, 1); // too long
    EXPECT_EQ(run("--bogus", "pw\n").status, 2);
    const ToolRun r = run("--stdin", "pw\n");
    EXPECT_EQ(r.status, 0);
}

TEST_F(PasswdTool, NoTerminalWithoutStdinFlag)
{
    // Under meson test there may be no controlling terminal; when there is
    // none the tool must fail rather than read a password from stdin.
    if (access("/dev/tty", R_OK | W_OK) == 0) {
        const int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
        if (fd >= 0) {
            close(fd);
            GTEST_SKIP() << "a controlling terminal is present";
        }
    }
    const ToolRun r = run("-s plain", "pw\n");
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.out, "");
}

} // namespace
