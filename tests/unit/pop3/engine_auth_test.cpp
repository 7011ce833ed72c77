// engine_auth_test.cpp - the AUTHORIZATION state: greeting, USER/PASS,
// APOP, plaintext policy, maildrop opening, failure codes and limits, and
// every command in this state.
#include "fake_host.hpp"

#include <gtest/gtest.h>
#include <string>

namespace modpop3d::pop3::test
{
namespace
{

ConnectionFacts apop_facts()
{
    ConnectionFacts f = open_facts();
    f.apop_available = true;
    f.apop_timestamp = "<42.17@example.org>";
    return f;
}

TEST(Greeting, TimestampOnlyWhenApopIsAvailable)
{
    EXPECT_EQ(FakeHost(EngineConfig{}, apop_facts()).wire,
              "+OK POP3 server ready <42.17@example.org>\r\n");
    ConnectionFacts f = apop_facts();
    f.apop_available = false;
    EXPECT_EQ(FakeHost(EngineConfig{}, f).wire, "+OK POP3 server ready\r\n");
}

TEST(Greeting, MalformedTimestampDisablesApop)
{
    ConnectionFacts f = apop_facts();
    f.apop_timestamp = "<no closing bracket";
    FakeHost host(EngineConfig{}, f);
    EXPECT_EQ(host.wire, "+OK POP3 server ready\r\n");
    EXPECT_EQ(host.send("APOP alice 0123456789abcdef0123456789abcdef\r\n"),
              "-ERR APOP is not available\r\n");
}

TEST(Greeting, LongGreetingKeepsTheTimestampWithin512Octets)
{
    EngineConfig c;
    c.greeting = std::string(1000, 'g');
    FakeHost host(c, apop_facts());
    EXPECT_EQ(host.wire.size(), 512u);
    EXPECT_EQ(host.wire.substr(host.wire.size() - 22), " <42.17@example.org>\r\n");
}

TEST(UserPass, Success)
{
    FakeHost host;
    host.messages = {"a\n"};
    EXPECT_EQ(host.login(), "+OK Logged in, 1 message (3 octets)\r\n");
    EXPECT_EQ(host.engine.state(), State::transaction);
    EXPECT_EQ(host.engine.user(), "alice");
    EXPECT_EQ(host.engine.login_method(), LoginMethod::user_pass);
    const auto &v = std::get<VerifyPlain>(host.actions.at(0));
    EXPECT_EQ(v.user, "alice");
    EXPECT_EQ(v.password, "secret");
    EXPECT_EQ(std::get<OpenMaildrop>(host.actions.at(1)).user, "alice");
}

TEST(UserPass, PasswordMayContainSpaces)
{
    FakeHost host;
    host.passwords["bob"] = "two words ";
    host.send("USER bob\r\n");
    EXPECT_EQ(host.send("PASS two words \r\n").substr(0, 3), "+OK");
}

TEST(UserPass, UnknownUserAndWrongPasswordLookTheSame)
{
    FakeHost a;
    a.send("USER nobody\r\n");
    const std::string unknown = a.send("PASS secret\r\n");
    FakeHost b;
    b.send("USER alice\r\n");
    const std::string wrong = b.send("PASS wrong\r\n");
    EXPECT_EQ(unknown, "-ERR [AUTH] Authentication failed\r\n");
    EXPECT_EQ(unknown, wrong);
    EXPECT_EQ(a.engine.stats().failed_logins, 1u);
    EXPECT_EQ(a.engine.state(), State::authorization);
}

TEST(UserPass, ControlCharactersInTheNameFailLikeAWrongPassword)
{
    FakeHost host;
    EXPECT_EQ(host.send("USER ali\x01"
                        "ce\r\n"),
              "+OK Send your password\r\n");
    EXPECT_EQ(host.send("PASS secret\r\n"), "-ERR [AUTH] Authentication failed\r\n");
    EXPECT_EQ(count_of<VerifyPlain>(host.actions), 0u) << "never reaches the auth chain";
}

TEST(UserPass, PassWithoutUser)
{
    FakeHost host;
    EXPECT_EQ(host.send("PASS secret\r\n"), "-ERR Send USER first\r\n");
    host.send("USER alice\r\n");
    host.send("PASS wrong\r\n");
    EXPECT_EQ(host.send("PASS secret\r\n"), "-ERR Send USER first\r\n")
        << "a failed PASS forgets the USER";
}

TEST(UserPass, SecondUserReplacesTheFirst)
{
    FakeHost host;
    host.send("USER mallory\r\n");
    host.send("USER alice\r\n");
    EXPECT_EQ(host.send("PASS secret\r\n").substr(0, 3), "+OK");
}

TEST(UserPass, OkOnlyAfterTheMaildropIsOpen)
{
    FakeHost host;
    host.manual = true;
    host.send("USER alice\r\n");
    EXPECT_EQ(host.send("PASS secret\r\n"), "");
    ASSERT_EQ(host.pending.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<VerifyPlain>(host.pending.front()));
    host.pending.clear();
    host.engine.auth_result(Outcome::ok, "alice@example.org");
    host.pump();
    EXPECT_EQ(host.wire, "+OK POP3 server ready\r\n+OK Send your password\r\n")
        << "no +OK before the maildrop is locked";
    ASSERT_EQ(host.pending.size(), 1u);
    EXPECT_EQ(std::get<OpenMaildrop>(host.pending.front()).user, "alice@example.org");
    host.pending.clear();
    EXPECT_TRUE(host.engine.maildrop_opened({}));
    host.pump();
    EXPECT_EQ(host.engine.user(), "alice@example.org");
    EXPECT_EQ(host.wire.substr(host.wire.rfind("+OK")), "+OK Logged in, 0 messages (0 octets)\r\n");
}

TEST(UserPass, MaildropFailuresMapToResponseCodes)
{
    const std::pair<Outcome, const char *> cases[] = {
        {Outcome::in_use, "-ERR [IN-USE] The maildrop is locked by another session\r\n"},
        {Outcome::temp_failure, "-ERR [SYS/TEMP] Unable to open the maildrop, try again later\r\n"},
        {Outcome::perm_failure, "-ERR [SYS/PERM] Unable to open the maildrop\r\n"},
        {Outcome::login_delay, "-ERR [LOGIN-DELAY] Too soon since the last login\r\n"},
        {Outcome::auth_failed, "-ERR [AUTH] Authentication failed\r\n"},
    };
    for (const auto &[outcome, text] : cases) {
        FakeHost host;
        host.maildrop_outcome = outcome;
        EXPECT_EQ(host.login(), text);
        EXPECT_EQ(host.engine.state(), State::authorization);
        EXPECT_EQ(host.engine.user(), "");
        EXPECT_EQ(host.engine.stats().failed_logins, outcome == Outcome::auth_failed ? 1u : 0u);
    }
}

TEST(UserPass, AuthBackendFailuresAreNeverReportedAsBadPasswords)
{
    FakeHost host;
    host.manual = true;
    host.send("USER alice\r\nPASS secret\r\n");
    host.pending.clear();
    host.engine.auth_result(Outcome::temp_failure);
    host.pump();
    EXPECT_EQ(host.wire.substr(host.wire.rfind("-ERR")),
              "-ERR [SYS/TEMP] Authentication is temporarily unavailable, try again later\r\n");
    EXPECT_EQ(host.engine.stats().failed_logins, 0u);
}

TEST(UserPass, InvalidUidlListIsRefused)
{
    FakeHost host;
    host.manual = true;
    host.send("USER alice\r\nPASS secret\r\n");
    host.pending.clear();
    host.engine.auth_result(Outcome::ok);
    host.pump();
    host.pending.clear();
    EXPECT_FALSE(host.engine.maildrop_opened({{10, "has space"}}));
    host.pump();
    EXPECT_EQ(host.wire.substr(host.wire.rfind("-ERR")),
              "-ERR [SYS/PERM] Unable to open the maildrop\r\n");
    EXPECT_EQ(host.engine.state(), State::authorization);
    EXPECT_FALSE(host.engine.maildrop_opened({})) << "the attempt is over";
}

TEST(UserPass, TooManyFailuresClose)
{
    FakeHost host;
    for (int i = 0; i < 3; ++i) {
        EXPECT_FALSE(host.closed);
        host.send("USER alice\r\n");
        EXPECT_EQ(host.send("PASS nope\r\n"), "-ERR [AUTH] Authentication failed\r\n");
    }
    EXPECT_EQ(host.closed, CloseReason::auth_failures);
    EXPECT_EQ(host.engine.stats().failed_logins, 3u);
    EXPECT_EQ(host.send("USER alice\r\n"), "") << "nothing after close";
}

TEST(PlaintextPolicy, RefusedWithoutTls)
{
    ConnectionFacts f = apop_facts();
    f.plaintext_allowed = false;
    FakeHost host(EngineConfig{}, f);
    const std::string refused = "-ERR [AUTH] Plaintext authentication requires TLS\r\n";
    EXPECT_EQ(host.send("USER alice\r\n"), refused);
    EXPECT_EQ(host.send("PASS secret\r\n"), refused);
    EXPECT_EQ(host.send("APOP alice 0123456789abcdef0123456789abcdef\r\n"), refused);
    EXPECT_EQ(host.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"), refused);
    EXPECT_EQ(host.send("AUTH LOGIN\r\n"), refused);
    EXPECT_EQ(host.engine.stats().failed_logins, 0u);
    EXPECT_TRUE(host.actions.empty()) << "no credentials reach the host";
    EXPECT_EQ(host.send("AUTH\r\n"), "+OK Supported mechanisms follow\r\nX-TEST\r\n.\r\n");
}

TEST(Apop, DigestIsPassedLowerCase)
{
    FakeHost host(EngineConfig{}, apop_facts());
    host.apop_digests["alice"] = "0123456789abcdef0123456789abcdef";
    EXPECT_EQ(host.send("apop alice 0123456789ABCDEF0123456789abcdef\r\n").substr(0, 3), "+OK");
    EXPECT_EQ(host.engine.login_method(), LoginMethod::apop);
    EXPECT_EQ(std::get<VerifyApop>(host.actions.at(0)).timestamp, "<42.17@example.org>");
}

TEST(Apop, BadDigestSyntaxAndWrongDigest)
{
    FakeHost host(EngineConfig{}, apop_facts());
    host.apop_digests["alice"] = "0123456789abcdef0123456789abcdef";
    EXPECT_EQ(host.send("APOP alice 0123\r\n"), "-ERR Syntax error\r\n");
    EXPECT_EQ(host.send("APOP alice 0123456789abcdef0123456789abcdeg\r\n"),
              "-ERR Syntax error\r\n");
    EXPECT_EQ(host.send("APOP alice ffffffffffffffffffffffffffffffff\r\n"),
              "-ERR [AUTH] Authentication failed\r\n");
    EXPECT_EQ(host.send("APOP bob 0123456789abcdef0123456789abcdef\r\n"),
              "-ERR [AUTH] Authentication failed\r\n");
}

TEST(AuthorizationState, TransactionCommandsAreRefused)
{
    EngineConfig c;
    c.max_bad_commands = 0; // ten bad commands would close by default
    FakeHost host(c);
    for (const char *cmd : {"STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 1",
                            "UIDL", "UIDL 1"}) {
        EXPECT_EQ(host.send(std::string(cmd) + "\r\n"), "-ERR Not logged in\r\n") << cmd;
    }
    EXPECT_TRUE(host.actions.empty());
    EXPECT_EQ(host.engine.state(), State::authorization);
}

TEST(AuthorizationState, CapaAndQuit)
{
    FakeHost host;
    EXPECT_EQ(host.send("CAPA\r\n"), "+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\n"
                                     "SASL PLAIN LOGIN X-TEST\r\nSTLS\r\nRESP-CODES\r\n"
                                     "AUTH-RESP-CODE\r\nPIPELINING\r\n.\r\n");
    EXPECT_EQ(host.send("QUIT\r\n"), "+OK Logging out\r\n");
    EXPECT_EQ(host.closed, CloseReason::quit);
    EXPECT_TRUE(host.commits.empty()) << "no maildrop, nothing to commit";
}

TEST(AuthorizationState, AnswersOutOfTurnAreRefused)
{
    FakeHost host;
    EXPECT_FALSE(host.engine.auth_result(Outcome::ok));
    EXPECT_FALSE(host.engine.sasl_challenge("x"));
    EXPECT_FALSE(host.engine.maildrop_opened({}));
    EXPECT_FALSE(host.engine.maildrop_failed(Outcome::in_use));
    EXPECT_FALSE(host.engine.retrieve_started());
    EXPECT_FALSE(host.engine.retrieve_finished(Outcome::gone));
    EXPECT_FALSE(host.engine.tls_started(open_facts()));
    EXPECT_FALSE(host.engine.tls_failed());
    EXPECT_FALSE(host.engine.commit_finished(Outcome::ok));
    EXPECT_EQ(host.engine.state(), State::authorization);
    EXPECT_EQ(host.send("NOOP\r\n"), "-ERR Not logged in\r\n");
}

} // namespace
} // namespace modpop3d::pop3::test
