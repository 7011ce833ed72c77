// test_log.cpp - structured log lines cannot be forged by client data.
#include "util/log.hpp"

#include <gtest/gtest.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

using namespace modpop3d;

TEST(Log, QuoteMakesValuesSafe)
{
    EXPECT_EQ(log::quote("alice"), "alice");
    EXPECT_EQ(log::quote("a b"), "\"a b\"");
    EXPECT_EQ(log::quote("x\" user=root"), "\"x\\\" user=root\"");
    EXPECT_EQ(log::quote("a\nb"), "\"a\\x0ab\"");
    EXPECT_EQ(log::quote(""), "\"\"");
    EXPECT_EQ(log::quote("k=v"), "\"k=v\"");
}

TEST(Log, LinesCarryLevelAndModuleAndStayOnOneLine)
{
    std::vector<std::string> lines;
    log::set_sink([&](int, const std::string &l) { lines.push_back(l); });
    log::writef(log::Warning, "auth_sql/customers", "event=down host=%s", "db1\nlevel=err");
    log::write(log::Info, "", "event=start");
    log::set_sink(nullptr);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], "level=warning module=auth_sql/customers event=down host=db1?level=err");
    EXPECT_EQ(lines[1], "level=info event=start");
    EXPECT_EQ(log::level_from_name("debug"), log::Debug);
    EXPECT_EQ(log::level_from_name("loud"), -1);
}

// Each line names the process that wrote it; the pid is looked up once per
// process, so a forked child (a worker, a session process) must not reuse
// its parent's.
TEST(Log, LinesNameTheWritingProcessAlsoAfterFork)
{
    log::init(log::Target::Stderr, log::Info, "modpop3d-test");
    int saved = dup(STDERR_FILENO);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    ASSERT_EQ(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
    log::write(log::Info, "", "event=parent"); // caches the parent's pid
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        log::write(log::Info, "", "event=child");
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(p[1]);
    std::string text;
    char buf[1024];
    for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;)
        text.append(buf, static_cast<std::size_t>(n));
    close(p[0]);
    EXPECT_NE(text.find("modpop3d-test[" + std::to_string(getpid()) + "]: level=info event=parent"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("modpop3d-test[" + std::to_string(child) + "]: level=info event=child"),
              std::string::npos)
        << text;
}
