// engine_limits_test.cpp - bounded input: the 255-octet line limit, NUL
// bytes, empty lines, bad-command and overlong-line limits.
#include "fake_host.hpp"

#include <gtest/gtest.h>
#include <string>

namespace modpop3d::pop3::test
{
namespace
{

using namespace std::string_literals;

const std::string too_long = "-ERR Line too long\r\n";

// A NOOP-like line of exactly `total` octets including CRLF: "NOOP" never
// takes arguments, so use "USER xxxx" which accepts any length.
std::string user_line(std::size_t total, std::string_view eol = "\r\n")
{
    return "USER " + std::string(total - 5 - eol.size(), 'x') + std::string(eol);
}

TEST(LineLimit, Exactly255OctetsIsAccepted)
{
    FakeHost host;
    EXPECT_EQ(host.send(user_line(255)), "+OK Send your password\r\n");
    EXPECT_EQ(host.send(user_line(255, "\n")), "+OK Send your password\r\n");
}

TEST(LineLimit, Longer256OctetsGetsOneErr)
{
    FakeHost host;
    EXPECT_EQ(host.send(user_line(256)), too_long);
    EXPECT_EQ(host.send(user_line(256, "\n")), too_long);
    EXPECT_EQ(host.engine.stats().long_lines, 2u);
}

TEST(LineLimit, TheRestOfTheLineIsDiscardedNotRunAsACommand)
{
    FakeHost host;
    // The tail of the long line would be "QUIT" if the line were wrapped.
    const std::string line = "USER " + std::string(250, 'x') + "QUIT\r\n";
    EXPECT_EQ(host.send(line + "CAPA\r\n").substr(0, too_long.size() + 3), too_long + "+OK");
    EXPECT_FALSE(host.closed);
    EXPECT_EQ(host.engine.stats().long_lines, 1u);
}

TEST(LineLimit, HugeLineInManyFeedsGetsExactlyOneErr)
{
    FakeHost host;
    std::string got;
    for (int i = 0; i < 100; ++i)
        got += host.send(std::string(1000, 'A'));
    got += host.send("\r\nUSER alice\r\n");
    EXPECT_EQ(got, too_long + "+OK Send your password\r\n");
}

TEST(LineLimit, OverlongByteByByte)
{
    FakeHost host;
    EXPECT_EQ(host.send_bytewise(user_line(300) + "USER a\r\n"),
              too_long + "+OK Send your password\r\n");
}

TEST(LineLimit, RepeatedAbuseCloses)
{
    EngineConfig c;
    c.max_long_lines = 2;
    FakeHost host(c);
    host.send(user_line(300));
    EXPECT_FALSE(host.closed);
    EXPECT_EQ(host.send(user_line(300) + "CAPA\r\n"), too_long);
    EXPECT_EQ(host.closed, CloseReason::long_lines);
}

TEST(LineLimit, ConfigurableLimit)
{
    EngineConfig c;
    c.max_line = 20;
    c.max_sasl_line = 20;
    FakeHost host(c);
    EXPECT_EQ(host.send("USER abcdefghijklm\r\n"), "+OK Send your password\r\n"); // 20 octets
    EXPECT_EQ(host.send("USER abcdefghijklmn\r\n"), too_long);
}

TEST(LineLimit, AuthLineLimitAppliesOnlyToAuth)
{
    FakeHost host;
    const std::string long_user = user_line(1000);
    EXPECT_EQ(host.send(long_user), too_long);
    const std::string long_auth = "AUTH X-TEST " + std::string(984, 'A') + "\r\n";
    EXPECT_EQ(host.send(long_auth).substr(0, 2), "+ ") << "up to max_sasl_line octets";
    host.send("*\r\n");
    EXPECT_EQ(host.send("AUTH X-TEST " + std::string(9000, 'A') + "\r\n"), too_long);
}

TEST(Nul, IsAnErrorNeverATruncation)
{
    FakeHost host;
    EXPECT_EQ(host.send("USER alice\0evil\r\n"s), "-ERR NUL byte in command\r\n");
    EXPECT_EQ(host.send("PASS secret\r\n"), "-ERR Send USER first\r\n");
    EXPECT_EQ(host.send("\0\r\n"s), "-ERR NUL byte in command\r\n");
    host.login();
    EXPECT_EQ(host.send("STAT\0\r\n"s), "-ERR NUL byte in command\r\n");
    EXPECT_EQ(host.engine.stats().bad_commands, 4u);
}

TEST(BadCommands, UnknownAndEmpty)
{
    FakeHost host;
    EXPECT_EQ(host.send("LAST\r\n"), "-ERR Unknown command\r\n");
    EXPECT_EQ(host.send("\r\n"), "-ERR Empty command\r\n");
    EXPECT_EQ(host.send("\n"), "-ERR Empty command\r\n");
    EXPECT_EQ(host.send("XTND XMIT\r\n"), "-ERR Unknown command\r\n");
    EXPECT_EQ(host.send("CAPA extra\r\n"), "-ERR Syntax error\r\n");
    EXPECT_EQ(host.engine.stats().bad_commands, 5u);
}

TEST(BadCommands, TooManyClose)
{
    EngineConfig c;
    c.max_bad_commands = 3;
    FakeHost host(c);
    host.send("FOO\r\nBAR\r\n");
    EXPECT_FALSE(host.closed);
    EXPECT_EQ(host.send("BAZ\r\nCAPA\r\n"), "-ERR Unknown command\r\n");
    EXPECT_EQ(host.closed, CloseReason::bad_commands);
    EXPECT_FALSE(host.engine.wants_input());
}

TEST(BadCommands, ZeroMeansNoLimit)
{
    EngineConfig c;
    c.max_bad_commands = 0;
    FakeHost host(c);
    for (int i = 0; i < 100; ++i)
        host.send("FOO\r\n");
    EXPECT_FALSE(host.closed);
    EXPECT_EQ(host.engine.stats().bad_commands, 100u);
}

TEST(ReplyBound, EveryLineOfALongSessionFits512)
{
    EngineConfig c;
    c.greeting = std::string(600, 'G');
    c.capabilities.implementation = std::string(600, 'I');
    FakeHost host(c);
    host.messages = {"a\n"};
    host.send(user_line(255) + "PASS x\r\nCAPA\r\nAUTH\r\n");
    host.login();
    host.send("CAPA\r\nLIST\r\nUIDL\r\nSTAT\r\nQUIT\r\n");
    std::size_t start = 0;
    int lines = 0;
    while (start < host.wire.size()) {
        const std::size_t end = host.wire.find("\r\n", start);
        ASSERT_NE(end, std::string::npos);
        EXPECT_LE(end + 2 - start, 512u) << host.wire.substr(start, 40);
        start = end + 2;
        ++lines;
    }
    EXPECT_GT(lines, 20);
}

} // namespace
} // namespace modpop3d::pop3::test
