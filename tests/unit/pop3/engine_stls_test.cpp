// engine_stls_test.cpp - STLS (RFC 2595) and the plaintext injection class
// of CVE-2011-0411: nothing sent before the handshake survives it.
#include "fake_host.hpp"

#include <gtest/gtest.h>
#include <string>

namespace modpop3d::pop3::test
{
namespace
{

const std::string begin_tls = "+OK Begin TLS negotiation\r\n";

ConnectionFacts plain_tcp()
{
    ConnectionFacts f = open_facts();
    f.plaintext_allowed = false;
    return f;
}

ConnectionFacts after_tls()
{
    ConnectionFacts f = open_facts();
    f.tls_active = true;
    f.plaintext_allowed = true;
    return f;
}

TEST(Stls, InjectedCommandsAfterStlsAreNeverAnswered)
{
    FakeHost host(EngineConfig{}, plain_tcp());
    host.manual = true;
    EXPECT_EQ(host.send("STLS\r\nCAPA\r\n"), begin_tls);
    ASSERT_EQ(host.pending.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<StartTls>(host.pending.front()));
    EXPECT_FALSE(host.engine.wants_input()) << "the host must not read during the handshake";
    EXPECT_TRUE(host.engine.plaintext_after_stls()) << "the host is told, to drop the client";
    host.send("NOOP\r\nQUIT\r\n"); // plaintext sent before the handshake ends
    host.pending.clear();
    EXPECT_TRUE(host.engine.tls_started(after_tls()));
    host.pump();
    EXPECT_EQ(host.wire, "+OK POP3 server ready\r\n" + begin_tls)
        << "CAPA, NOOP and QUIT were plaintext and must be gone";
    EXPECT_FALSE(host.closed);
    EXPECT_EQ(host.send("NOOP\r\n"), "-ERR Not logged in\r\n") << "the TLS session works";
}

TEST(Stls, InjectionByteByByteAndAcrossFeeds)
{
    FakeHost host(EngineConfig{}, plain_tcp());
    host.manual = true;
    EXPECT_EQ(host.send("ST"), "");
    EXPECT_EQ(host.send("LS\r"), "");
    EXPECT_EQ(host.send("\nUSER alice\r\nPASS secret\r\n"), begin_tls);
    host.pending.clear();
    host.engine.tls_started(after_tls());
    host.pump();
    EXPECT_TRUE(host.pending.empty()) << "no VerifyPlain from injected plaintext";
}

TEST(Stls, UserGivenBeforeTlsIsForgotten)
{
    ConnectionFacts f = open_facts(); // plaintext allowed here (say, loopback)
    FakeHost host(EngineConfig{}, f);
    host.send("USER mallory\r\n");
    EXPECT_EQ(host.send("STLS\r\n"), begin_tls);
    EXPECT_FALSE(host.engine.plaintext_after_stls()) << "nothing followed STLS";
    EXPECT_EQ(host.send("PASS secret\r\n"), "-ERR Send USER first\r\n");
}

TEST(Stls, CapaAfterTls)
{
    FakeHost host(EngineConfig{}, plain_tcp());
    const std::string before = host.send("CAPA\r\n");
    EXPECT_NE(before.find("STLS\r\n"), std::string::npos);
    EXPECT_EQ(before.find("USER\r\n"), std::string::npos);
    EXPECT_NE(before.find("SASL X-TEST\r\n"), std::string::npos);
    host.send("STLS\r\n");
    EXPECT_TRUE(host.engine.facts().tls_active);
    const std::string after = host.send("CAPA\r\n");
    EXPECT_EQ(after.find("STLS"), std::string::npos);
    EXPECT_NE(after.find("USER\r\n"), std::string::npos);
    EXPECT_NE(after.find("SASL PLAIN LOGIN X-TEST\r\n"), std::string::npos);
    EXPECT_EQ(host.login().substr(0, 3), "+OK");
}

TEST(Stls, RefusedWhenUnavailableOrAlreadyActive)
{
    ConnectionFacts f = plain_tcp();
    f.stls_available = false;
    FakeHost none(EngineConfig{}, f);
    EXPECT_EQ(none.send("STLS\r\nCAPA\r\n").substr(0, 32), "-ERR STLS is not available\r\n+OK ");

    FakeHost tls(EngineConfig{}, after_tls());
    EXPECT_EQ(tls.send("STLS\r\n"), "-ERR TLS is already active\r\n");

    FakeHost twice(EngineConfig{}, plain_tcp());
    twice.send("STLS\r\n");
    EXPECT_EQ(twice.send("STLS\r\n"), "-ERR TLS is already active\r\n");
    EXPECT_EQ(count_of<StartTls>(twice.actions), 1u);
}

TEST(Stls, NotAfterLogin)
{
    FakeHost host;
    host.login();
    EXPECT_EQ(host.send("STLS\r\n"), "-ERR Already logged in\r\n");
    EXPECT_EQ(count_of<StartTls>(host.actions), 0u);
}

TEST(Stls, SyntaxError)
{
    FakeHost host(EngineConfig{}, plain_tcp());
    EXPECT_EQ(host.send("STLS now\r\n"), "-ERR Syntax error\r\n");
    EXPECT_EQ(count_of<StartTls>(host.actions), 0u);
}

TEST(Stls, HandshakeFailureCloses)
{
    FakeHost host(EngineConfig{}, plain_tcp());
    host.manual = true;
    host.send("STLS\r\n");
    host.pending.clear();
    EXPECT_TRUE(host.engine.tls_failed());
    host.pump();
    EXPECT_EQ(host.closed, CloseReason::tls_failed);
}

TEST(Stls, ApopTimestampIsKeptAcrossTls)
{
    ConnectionFacts f = plain_tcp();
    f.apop_available = true;
    f.apop_timestamp = "<1.2@host>";
    FakeHost host(EngineConfig{}, f);
    host.manual = true;
    host.send("STLS\r\n");
    host.pending.clear();
    ConnectionFacts now = after_tls();
    now.apop_available = true;
    now.apop_timestamp = "<other@host>";
    host.engine.tls_started(now);
    host.send("APOP alice 0123456789abcdef0123456789abcdef\r\n");
    ASSERT_EQ(host.pending.size(), 1u);
    EXPECT_EQ(std::get<VerifyApop>(host.pending.front()).timestamp, "<1.2@host>");
}

} // namespace
} // namespace modpop3d::pop3::test
