// command_test.cpp - the command line parser and strict numbers.
#include "pop3/command.hpp"

#include <gtest/gtest.h>
#include <string>

namespace modpop3d::pop3
{
namespace
{

using namespace std::string_literals;

TEST(CommandParser, KeywordsAreCaseInsensitive)
{
    for (const char *line : {"STAT", "stat", "StAt", "sTAT"}) {
        const ParseResult r = parse_command(line);
        EXPECT_EQ(r.error, ParseError::none) << line;
        EXPECT_EQ(r.command.verb, Verb::stat) << line;
    }
}

TEST(CommandParser, EveryKeywordIsKnown)
{
    const std::pair<const char *, Verb> all[] = {
        {"USER", Verb::user}, {"PASS", Verb::pass}, {"APOP", Verb::apop}, {"QUIT", Verb::quit},
        {"STAT", Verb::stat}, {"LIST", Verb::list}, {"RETR", Verb::retr}, {"DELE", Verb::dele},
        {"NOOP", Verb::noop}, {"RSET", Verb::rset}, {"TOP", Verb::top},   {"UIDL", Verb::uidl},
        {"CAPA", Verb::capa}, {"AUTH", Verb::auth}, {"STLS", Verb::stls},
    };
    for (const auto &[name, verb] : all) {
        EXPECT_EQ(verb_of(name), verb) << name;
        EXPECT_EQ(verb_name(verb), name);
    }
    EXPECT_EQ(verb_of("LAST"), Verb::unknown);
    EXPECT_EQ(verb_of("STATX"), Verb::unknown);
    EXPECT_EQ(verb_of(""), Verb::unknown);
}

TEST(CommandParser, Arguments)
{
    ParseResult r = parse_command("TOP 1 10");
    ASSERT_EQ(r.error, ParseError::none);
    EXPECT_EQ(r.command.verb, Verb::top);
    ASSERT_EQ(r.command.args.size(), 2u);
    EXPECT_EQ(r.command.args[0], "1");
    EXPECT_EQ(r.command.args[1], "10");

    r = parse_command("LIST");
    ASSERT_EQ(r.error, ParseError::none);
    EXPECT_TRUE(r.command.args.empty());

    r = parse_command("APOP mrose c4c9334bac560ecc979e58001b3e22fb");
    ASSERT_EQ(r.error, ParseError::none);
    EXPECT_EQ(r.command.args[0], "mrose");
}

TEST(CommandParser, ArgumentsAreSeparatedBySingleSpaces)
{
    for (const char *line :
         {"LIST  1", "LIST 1 ", "LIST ", "TOP 1  2", "TOP 1 2 ", " STAT", "STAT ", "TOP 1",
          "TOP 1 2 3", "RETR", "DELE", "NOOP x", "QUIT now", "APOP a", "AUTH A B C", "LIST\t1"}) {
        const ParseResult r = parse_command(line);
        EXPECT_NE(r.error, ParseError::none) << '"' << line << '"';
    }
}

TEST(CommandParser, UserAndPassTakeTheRestOfTheLine)
{
    ParseResult r = parse_command("PASS my secret  with spaces ");
    ASSERT_EQ(r.error, ParseError::none);
    ASSERT_EQ(r.command.args.size(), 1u);
    EXPECT_EQ(r.command.args[0], "my secret  with spaces ");

    r = parse_command("USER alice@example.org");
    ASSERT_EQ(r.error, ParseError::none);
    EXPECT_EQ(r.command.args[0], "alice@example.org");

    EXPECT_EQ(parse_command("USER").error, ParseError::syntax);
    EXPECT_EQ(parse_command("USER ").error, ParseError::syntax);
    EXPECT_EQ(parse_command("PASS").error, ParseError::syntax);
}

TEST(CommandParser, Errors)
{
    EXPECT_EQ(parse_command("").error, ParseError::empty);
    EXPECT_EQ(parse_command("XYZZY").error, ParseError::unknown);
    EXPECT_EQ(parse_command("LIST1").error, ParseError::unknown);
    const ParseResult r = parse_command("DELE 1 2");
    EXPECT_EQ(r.error, ParseError::syntax);
    EXPECT_EQ(r.command.verb, Verb::dele);
}

TEST(CommandParser, NulIsAnErrorAnywhere)
{
    EXPECT_EQ(parse_command("\0STAT"s).error, ParseError::nul_byte);
    EXPECT_EQ(parse_command("ST\0AT"s).error, ParseError::nul_byte);
    EXPECT_EQ(parse_command("LIST 1\0"s).error, ParseError::nul_byte);
    EXPECT_EQ(parse_command("PASS se\0cret"s).error, ParseError::nul_byte);
}

TEST(StrictNumbers, Accepted)
{
    EXPECT_EQ(parse_number("0"), 0u);
    EXPECT_EQ(parse_number("1"), 1u);
    EXPECT_EQ(parse_number("007"), 7u);
    EXPECT_EQ(parse_number("4294967295"), 4294967295u);
}

TEST(StrictNumbers, Rejected)
{
    for (const char *text : {"", "+1", "-1", " 1", "1 ", "1a", "0x10", "1.0", "１", "4294967296",
                             "4294967297", "99999999999999999999999", "1e3"})
        EXPECT_FALSE(parse_number(text)) << '"' << text << '"';
}

TEST(StrictNumbers, MaximumIsHonoured)
{
    EXPECT_EQ(parse_number("10", 10), 10u);
    EXPECT_FALSE(parse_number("11", 10));
    EXPECT_FALSE(parse_number("4294967297", 10)) << "must not wrap to 1";
}

} // namespace
} // namespace modpop3d::pop3
