// engine_sasl_test.cpp - AUTH (RFC 5034): PLAIN and LOGIN run by the engine,
// other mechanisms as host-owned SaslStep exchanges.
#include "fake_host.hpp"
#include "util/base64.hpp"

#include <gtest/gtest.h>
#include <string>

namespace modpop3d::pop3::test
{
namespace
{

using namespace std::string_literals;

std::string b64(std::string_view s)
{
    return base64::encode(s);
}

const std::string logged_in = "+OK Logged in, 0 messages (0 octets)\r\n";
const std::string failed = "-ERR [AUTH] Authentication failed\r\n";

TEST(AuthList, BareAuthListsUsableMechanisms)
{
    FakeHost host;
    EXPECT_EQ(host.send("AUTH\r\n"),
              "+OK Supported mechanisms follow\r\nPLAIN\r\nLOGIN\r\nX-TEST\r\n.\r\n");
    EXPECT_EQ(host.engine.state(), State::authorization);
}

TEST(AuthList, UnsupportedMechanism)
{
    FakeHost host;
    EXPECT_EQ(host.send("AUTH GSSAPI\r\n"), "-ERR Unsupported authentication mechanism\r\n");
    EXPECT_TRUE(host.actions.empty());
}

TEST(AuthPlain, InitialResponse)
{
    FakeHost host;
    EXPECT_EQ(host.send("AUTH PLAIN " + b64("\0alice\0secret"s) + "\r\n"), logged_in);
    EXPECT_EQ(host.engine.login_method(), LoginMethod::sasl_plain);
    const auto &v = std::get<VerifyPlain>(host.actions.at(0));
    EXPECT_EQ(v.method, LoginMethod::sasl_plain);
    EXPECT_EQ(v.user, "alice");
    EXPECT_EQ(v.password, "secret");
}

TEST(AuthPlain, MechanismNameIsCaseInsensitive)
{
    FakeHost host;
    EXPECT_EQ(host.send("auth plain " + b64("\0alice\0secret"s) + "\r\n"), logged_in);
}

TEST(AuthPlain, Continuation)
{
    FakeHost host;
    EXPECT_EQ(host.send("AUTH PLAIN\r\n"), "+ \r\n");
    EXPECT_EQ(host.send(b64("alice\0alice\0secret"s) + "\r\n"), logged_in)
        << "authzid equal to authcid is fine";
}

TEST(AuthPlain, ProxyLoginIsRefused)
{
    FakeHost host;
    EXPECT_EQ(host.send("AUTH PLAIN " + b64("admin\0alice\0secret"s) + "\r\n"), failed);
    EXPECT_EQ(count_of<VerifyPlain>(host.actions), 0u);
    EXPECT_EQ(host.engine.stats().failed_logins, 1u);
}

TEST(AuthPlain, WrongPassword)
{
    FakeHost host;
    EXPECT_EQ(host.send("AUTH PLAIN " + b64("\0alice\0nope"s) + "\r\n"), failed);
    EXPECT_EQ(host.send("AUTH PLAIN " + b64("\0ghost\0secret"s) + "\r\n"), failed);
}

TEST(AuthPlain, MalformedMessage)
{
    FakeHost host;
    EXPECT_EQ(host.send("AUTH PLAIN " + b64("alice secret") + "\r\n"),
              "-ERR Invalid PLAIN response\r\n");
    EXPECT_EQ(host.send("AUTH PLAIN " + b64("\0a\0b\0c"s) + "\r\n"),
              "-ERR Invalid PLAIN response\r\n");
    EXPECT_EQ(host.send("AUTH PLAIN =\r\n"), "-ERR Invalid PLAIN response\r\n")
        << "'=' is an empty initial response";
}

TEST(AuthPlain, InvalidBase64)
{
    FakeHost host;
    EXPECT_EQ(host.send("AUTH PLAIN AGFsaWNl!!\r\n"), "-ERR Invalid base64 data\r\n");
    EXPECT_EQ(host.send("AUTH PLAIN\r\n"), "+ \r\n");
    EXPECT_EQ(host.send("not base64\r\n"), "-ERR Invalid base64 data\r\n");
    EXPECT_EQ(host.send("NOOP\r\n"), "-ERR Not logged in\r\n") << "the exchange is over";
}

TEST(AuthPlain, StarCancels)
{
    FakeHost host;
    host.send("AUTH PLAIN\r\n");
    EXPECT_EQ(host.send("*\r\n"), "-ERR Authentication cancelled\r\n");
    EXPECT_EQ(host.engine.stats().failed_logins, 0u);
    EXPECT_EQ(host.send("CAPA\r\n").substr(0, 3), "+OK");
}

TEST(AuthLogin, TwoSteps)
{
    FakeHost host;
    EXPECT_EQ(host.send("AUTH LOGIN\r\n"), "+ VXNlcm5hbWU6\r\n");
    EXPECT_EQ(host.send(b64("alice") + "\r\n"), "+ UGFzc3dvcmQ6\r\n");
    EXPECT_EQ(host.send(b64("secret") + "\r\n"), logged_in);
    EXPECT_EQ(std::get<VerifyPlain>(host.actions.at(0)).method, LoginMethod::sasl_login);
}

TEST(AuthLogin, InitialResponseIsTheUserName)
{
    FakeHost host;
    EXPECT_EQ(host.send("AUTH LOGIN " + b64("alice") + "\r\n"), "+ UGFzc3dvcmQ6\r\n");
    EXPECT_EQ(host.send(b64("secret") + "\r\n"), logged_in);
}

TEST(AuthLogin, EmptyLineIsAnEmptyResponse)
{
    FakeHost host;
    host.passwords[""] = "";
    host.send("AUTH LOGIN\r\n");
    host.send("\r\n");
    EXPECT_EQ(host.send("\r\n"), failed) << "an empty user name never reaches the host";
}

TEST(AuthLogin, CancelAtThePasswordPrompt)
{
    FakeHost host;
    host.send("AUTH LOGIN\r\n");
    host.send(b64("alice") + "\r\n");
    EXPECT_EQ(host.send("*\r\n"), "-ERR Authentication cancelled\r\n");
    EXPECT_TRUE(host.actions.empty());
}

TEST(AuthHostMechanism, ChallengeAndResponse)
{
    FakeHost host;
    EXPECT_EQ(host.send("AUTH X-TEST\r\n"), "+ " + b64("who?") + "\r\n");
    const auto &first = std::get<SaslStep>(host.actions.at(0));
    EXPECT_EQ(first.mechanism, "X-TEST");
    EXPECT_TRUE(first.first);
    EXPECT_FALSE(first.has_response);
    EXPECT_EQ(host.send(b64("alice secret") + "\r\n"), logged_in);
    const auto &second = std::get<SaslStep>(host.actions.at(1));
    EXPECT_FALSE(second.first);
    EXPECT_EQ(second.response, "alice secret");
    EXPECT_EQ(host.engine.login_method(), LoginMethod::sasl_other);
}

TEST(AuthHostMechanism, InitialResponseIsPassedDecoded)
{
    FakeHost host;
    host.manual = true;
    host.send("AUTH x-test " + b64("hello") + "\r\n");
    ASSERT_EQ(host.pending.size(), 1u);
    const auto &step = std::get<SaslStep>(host.pending.front());
    EXPECT_EQ(step.mechanism, "X-TEST");
    EXPECT_TRUE(step.has_response);
    EXPECT_EQ(step.response, "hello");

    FakeHost empty;
    empty.manual = true;
    empty.send("AUTH X-TEST =\r\n");
    const auto &e = std::get<SaslStep>(empty.pending.at(0));
    EXPECT_TRUE(e.has_response);
    EXPECT_EQ(e.response, "");
}

TEST(AuthHostMechanism, CancelAndBadBase64AbortTheHostState)
{
    FakeHost host;
    host.send("AUTH X-TEST\r\n");
    EXPECT_EQ(host.send("*\r\n"), "-ERR Authentication cancelled\r\n");
    EXPECT_EQ(host.aborted, std::vector<std::string>{"X-TEST"});
    host.send("AUTH X-TEST\r\n");
    EXPECT_EQ(host.send("%%%%\r\n"), "-ERR Invalid base64 data\r\n");
    EXPECT_EQ(host.aborted.size(), 2u);
}

TEST(AuthHostMechanism, WrongResponseFails)
{
    FakeHost host;
    host.send("AUTH X-TEST\r\n");
    EXPECT_EQ(host.send(b64("mallory") + "\r\n"), failed);
    EXPECT_EQ(host.engine.stats().failed_logins, 1u);
    EXPECT_TRUE(host.aborted.empty()) << "a final outcome needs no abort";
}

TEST(AuthHostMechanism, AllowedWithoutTls)
{
    ConnectionFacts f = open_facts();
    f.plaintext_allowed = false;
    FakeHost host(EngineConfig{}, f);
    EXPECT_EQ(host.send("AUTH X-TEST\r\n"), "+ " + b64("who?") + "\r\n");
}

TEST(AuthHostMechanism, TimeoutMidExchangeAborts)
{
    FakeHost host;
    host.send("AUTH X-TEST\r\n");
    host.engine.idle_timeout();
    host.pump();
    EXPECT_EQ(host.aborted.size(), 1u);
    EXPECT_EQ(host.closed, CloseReason::timeout);
}

TEST(AuthLongLines, InitialResponseMayExceed255Octets)
{
    FakeHost host;
    const std::string password(1000, 'p');
    host.passwords["alice"] = password;
    const std::string line = "AUTH PLAIN " + b64("\0alice\0"s + password) + "\r\n";
    ASSERT_GT(line.size(), 255u);
    EXPECT_EQ(host.send(line), logged_in);
}

TEST(AuthLongLines, ContinuationLinesHaveTheSaslLimit)
{
    EngineConfig c;
    c.max_sasl_line = 600;
    FakeHost host(c);
    host.send("AUTH LOGIN\r\n");
    host.send(b64("alice") + "\r\n");
    EXPECT_EQ(host.send(std::string(700, 'A') + "\r\n"), "-ERR Line too long\r\n");
    EXPECT_EQ(host.send("NOOP\r\n"), "-ERR Not logged in\r\n")
        << "the overlong response ended the exchange";
}

TEST(AuthState, NotAfterLogin)
{
    FakeHost host;
    host.login();
    EXPECT_EQ(host.send("AUTH PLAIN " + b64("\0alice\0secret"s) + "\r\n"),
              "-ERR Already logged in\r\n");
    EXPECT_EQ(host.send("AUTH\r\n"), "-ERR Already logged in\r\n");
}

} // namespace
} // namespace modpop3d::pop3::test
