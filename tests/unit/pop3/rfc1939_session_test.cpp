// rfc1939_session_test.cpp - the example sessions of RFC 1939 (sections 7
// and 10), byte for byte where the RFC fixes the bytes.
#include "fake_host.hpp"

#include <gtest/gtest.h>
#include <string>

namespace modpop3d::pop3::test
{
namespace
{

// Two messages of 120 and 200 octets, as in the RFC example.
std::vector<std::string> rfc_messages()
{
    std::string m1 = "Subject: one\n\n";
    m1 += std::string(120 - pop3_size(m1) - 2, 'a') + "\n";
    std::string m2 = "Subject: two\n\n";
    m2 += std::string(200 - pop3_size(m2) - 2, 'b') + "\n";
    return {m1, m2};
}

TEST(Rfc1939, ApopExampleSession)
{
    ConnectionFacts facts = open_facts();
    facts.apop_available = true;
    facts.apop_timestamp = "<1896.697170952@dbc.mtview.ca.us>";
    FakeHost host(EngineConfig{}, facts);
    host.messages = rfc_messages();
    ASSERT_EQ(pop3_size(host.messages[0]), 120u);
    ASSERT_EQ(pop3_size(host.messages[1]), 200u);
    // MD5("<1896.697170952@dbc.mtview.ca.us>tanstaaf"), from the RFC.
    host.apop_digests["mrose"] = "c4c9334bac560ecc979e58001b3e22fb";

    EXPECT_EQ(host.wire, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
    EXPECT_EQ(host.send("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
              "+OK Logged in, 2 messages (320 octets)\r\n");
    const auto &apop = std::get<VerifyApop>(host.actions.at(0));
    EXPECT_EQ(apop.user, "mrose");
    EXPECT_EQ(apop.timestamp, "<1896.697170952@dbc.mtview.ca.us>");
    EXPECT_EQ(host.engine.user(), "mrose");

    EXPECT_EQ(host.send("STAT\r\n"), "+OK 2 320\r\n");
    EXPECT_EQ(host.send("LIST\r\n"), "+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n");
    std::string retr1 = host.send("RETR 1\r\n");
    EXPECT_EQ(retr1.substr(0, 16), "+OK 120 octets\r\n");
    EXPECT_EQ(retr1.size(), 16u + 120u + 3u);
    EXPECT_EQ(retr1.substr(retr1.size() - 6), "a\r\n.\r\n");
    EXPECT_EQ(host.send("DELE 1\r\n"), "+OK Message deleted\r\n");
    EXPECT_EQ(host.send("RETR 2\r\n").substr(0, 16), "+OK 200 octets\r\n");
    EXPECT_EQ(host.send("DELE 2\r\n"), "+OK Message deleted\r\n");
    EXPECT_EQ(host.send("QUIT\r\n"), "+OK Logging out (maildrop empty)\r\n");

    ASSERT_EQ(host.commits.size(), 1u);
    EXPECT_EQ(host.commits[0].deleted, (std::vector<uint8_t>{1, 1}));
    EXPECT_EQ(host.commits[0].retrieved, (std::vector<uint8_t>{1, 1}));
    EXPECT_FALSE(host.commits[0].early_close);
    EXPECT_EQ(host.closed, CloseReason::quit);
    EXPECT_EQ(host.engine.state(), State::closed);
    const Stats &s = host.engine.stats();
    EXPECT_EQ(s.retrieved_messages, 2u);
    EXPECT_EQ(s.retrieved_octets, 320u);
    EXPECT_EQ(s.deleted_messages, 2u);
    EXPECT_EQ(s.deleted_octets, 320u);
    EXPECT_EQ(s.failed_logins, 0u);
}

TEST(Rfc1939, UserPassExamples)
{
    FakeHost host;
    host.passwords = {{"mrose", "secret"}};
    host.messages = rfc_messages();
    EXPECT_EQ(host.wire, "+OK POP3 server ready\r\n") << "no timestamp without APOP";
    EXPECT_EQ(host.send("USER mrose\r\n"), "+OK Send your password\r\n");
    EXPECT_EQ(host.send("PASS secret\r\n"), "+OK Logged in, 2 messages (320 octets)\r\n");
    EXPECT_EQ(host.send("LIST 2\r\n"), "+OK 2 200\r\n");
    EXPECT_EQ(host.send("LIST 3\r\n"), "-ERR No such message\r\n");
    EXPECT_EQ(host.send("UIDL\r\n"),
              "+OK Unique-ID listing follows\r\n1 uid-1\r\n2 uid-2\r\n.\r\n");
    EXPECT_EQ(host.send("UIDL 2\r\n"), "+OK 2 uid-2\r\n");
    EXPECT_EQ(host.send("NOOP\r\n"), "+OK\r\n");
    EXPECT_EQ(host.send("DELE 1\r\n"), "+OK Message deleted\r\n");
    EXPECT_EQ(host.send("DELE 1\r\n"), "-ERR Message is deleted\r\n");
    EXPECT_EQ(host.send("RSET\r\n"), "+OK 2 messages (320 octets)\r\n");
    EXPECT_EQ(host.send("DELE 2\r\n"), "+OK Message deleted\r\n");
    EXPECT_EQ(host.send("QUIT\r\n"), "+OK Logging out (1 message left)\r\n");
    EXPECT_EQ(host.commits.at(0).deleted, (std::vector<uint8_t>{0, 1}));
    EXPECT_EQ(host.commits.at(0).retrieved, (std::vector<uint8_t>{0, 0}));
}

} // namespace
} // namespace modpop3d::pop3::test
