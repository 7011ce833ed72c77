// capabilities_test.cpp - CAPA advertises only what is true for this
// connection and state.
#include "pop3/capabilities.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace modpop3d::pop3
{
namespace
{

bool has(const std::vector<std::string> &lines, const std::string &line)
{
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

bool has_prefix(const std::vector<std::string> &lines, const std::string &prefix)
{
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string &l) { return l.rfind(prefix, 0) == 0; });
}

ConnectionFacts plain_tcp()
{
    ConnectionFacts f;
    f.stls_available = true;
    f.sasl_mechanisms = {"PLAIN", "LOGIN", "SCRAM-SHA-256"};
    return f;
}

TEST(Capabilities, DefaultsBeforeLoginOnPlainTcp)
{
    const auto lines = capability_lines({}, plain_tcp(), false);
    const std::vector<std::string> expected = {
        "TOP", "UIDL", "SASL SCRAM-SHA-256", "STLS", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"};
    EXPECT_EQ(lines, expected);
}

TEST(Capabilities, UserAndPlaintextMechanismsOnlyWhenPlaintextIsAllowed)
{
    ConnectionFacts f = plain_tcp();
    EXPECT_FALSE(has(capability_lines({}, f, false), "USER"));
    f.plaintext_allowed = true;
    const auto lines = capability_lines({}, f, false);
    EXPECT_TRUE(has(lines, "USER"));
    EXPECT_TRUE(has(lines, "SASL PLAIN LOGIN SCRAM-SHA-256"));
}

TEST(Capabilities, NoSaslLineWithoutUsableMechanisms)
{
    ConnectionFacts f = plain_tcp();
    f.sasl_mechanisms = {"PLAIN", "LOGIN"};
    EXPECT_FALSE(has_prefix(capability_lines({}, f, false), "SASL"));
    f.sasl_mechanisms.clear();
    f.plaintext_allowed = true;
    EXPECT_FALSE(has_prefix(capability_lines({}, f, false), "SASL"));
}

TEST(Capabilities, StlsOnlyWhenAvailableBeforeTlsAndBeforeLogin)
{
    ConnectionFacts f = plain_tcp();
    EXPECT_TRUE(has(capability_lines({}, f, false), "STLS"));
    EXPECT_FALSE(has(capability_lines({}, f, true), "STLS"));
    f.tls_active = true;
    EXPECT_FALSE(has(capability_lines({}, f, false), "STLS"));
    f.tls_active = false;
    f.stls_available = false;
    EXPECT_FALSE(has(capability_lines({}, f, false), "STLS"));
}

TEST(Capabilities, ImplementationAfterLoginOnly)
{
    CapabilityConfig c;
    c.implementation = "modpop3d 0.1";
    EXPECT_FALSE(has_prefix(capability_lines(c, plain_tcp(), false), "IMPLEMENTATION"));
    EXPECT_TRUE(has(capability_lines(c, plain_tcp(), true), "IMPLEMENTATION modpop3d 0.1"));
    c.implementation_pre_login = true;
    EXPECT_TRUE(has(capability_lines(c, plain_tcp(), false), "IMPLEMENTATION modpop3d 0.1"));
    c.implementation.clear();
    EXPECT_FALSE(has_prefix(capability_lines(c, plain_tcp(), true), "IMPLEMENTATION"));
}

TEST(Capabilities, LoginDelayAndExpire)
{
    CapabilityConfig c;
    c.login_delay = 900;
    c.expire = Expire{true, 0};
    auto lines = capability_lines(c, plain_tcp(), false);
    EXPECT_TRUE(has(lines, "LOGIN-DELAY 900"));
    EXPECT_TRUE(has(lines, "EXPIRE NEVER"));

    c.login_delay_per_user = true;
    c.expire = Expire{false, 30};
    c.expire_per_user = true;
    lines = capability_lines(c, plain_tcp(), false);
    EXPECT_TRUE(has(lines, "LOGIN-DELAY 900 USER"));
    EXPECT_TRUE(has(lines, "EXPIRE 30 USER"));

    // After login: the user's own values, never "USER".
    lines = capability_lines(c, plain_tcp(), true, UserCapabilities{60, Expire{false, 0}});
    EXPECT_TRUE(has(lines, "LOGIN-DELAY 60"));
    EXPECT_TRUE(has(lines, "EXPIRE 0"));
    lines = capability_lines(c, plain_tcp(), true);
    EXPECT_TRUE(has(lines, "LOGIN-DELAY 900"));
    EXPECT_TRUE(has(lines, "EXPIRE 30"));
}

TEST(Capabilities, SwitchesTurnTagsOff)
{
    CapabilityConfig c;
    c.top = c.uidl = c.resp_codes = c.auth_resp_code = c.pipelining = false;
    ConnectionFacts f;
    EXPECT_TRUE(capability_lines(c, f, false).empty());
    EXPECT_TRUE(capability_lines(c, f, true).empty());
}

TEST(Capabilities, PreLoginTagsAreListedAfterLoginToo)
{
    ConnectionFacts f = plain_tcp();
    f.plaintext_allowed = true;
    CapabilityConfig c;
    c.login_delay = 10;
    const auto before = capability_lines(c, f, false);
    const auto after = capability_lines(c, f, true);
    for (const std::string &l : before) {
        if (l != "STLS") { // valid in AUTHORIZATION only (RFC 2595)
            EXPECT_TRUE(has(after, l)) << l;
        }
    }
}

TEST(Capabilities, PlaintextMechanismNames)
{
    EXPECT_TRUE(is_plaintext_mechanism("PLAIN"));
    EXPECT_TRUE(is_plaintext_mechanism("login"));
    EXPECT_FALSE(is_plaintext_mechanism("CRAM-MD5"));
    EXPECT_FALSE(is_plaintext_mechanism("PLAINX"));
}

} // namespace
} // namespace modpop3d::pop3
