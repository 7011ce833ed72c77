// test_log.cpp - structured log lines cannot be forged by client data.
#include "util/log.hpp"

#include <gtest/gtest.h>

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
