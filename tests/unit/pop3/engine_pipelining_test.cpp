// engine_pipelining_test.cpp - RFC 2449 PIPELINING: any split of the input
// gives the same answers in the same order, and nothing is consumed while
// an action is outstanding.
#include "fake_host.hpp"
#include "util/base64.hpp"

#include <gtest/gtest.h>
#include <string>

namespace modpop3d::pop3::test
{
namespace
{

using namespace std::string_literals;

const std::vector<std::string> mailbox = {"Subject: a\n\n.x\n", "Subject: b\r\n\r\nyy\r\n"};

// A whole session in one string, mixing CRLF and bare LF.
const std::string script = "CAPA\r\nUSER alice\nPASS secret\r\nSTAT\r\nLIST\nRETR 1\r\n"
                           "TOP 2 0\r\nDELE 1\r\nUIDL\r\nRSET\nDELE 2\r\nNOOP\r\nQUIT\r\n";

std::string run_whole()
{
    FakeHost host;
    host.messages = mailbox;
    host.send(script);
    return host.wire;
}

TEST(Pipelining, SeveralCommandsInOneFeed)
{
    FakeHost host;
    host.messages = mailbox;
    host.send(script);
    EXPECT_EQ(host.wire,
              "+OK POP3 server ready\r\n"
              "+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nSASL PLAIN LOGIN X-TEST\r\n"
              "STLS\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n.\r\n"
              "+OK Send your password\r\n"
              "+OK Logged in, 2 messages (36 octets)\r\n"
              "+OK 2 36\r\n"
              "+OK 2 messages (36 octets)\r\n1 18\r\n2 18\r\n.\r\n"
              "+OK 18 octets\r\nSubject: a\r\n\r\n..x\r\n.\r\n"
              "+OK Top of message follows\r\nSubject: b\r\n\r\n.\r\n"
              "+OK Message deleted\r\n"
              "+OK Unique-ID listing follows\r\n2 uid-2\r\n.\r\n"
              "+OK 2 messages (36 octets)\r\n"
              "+OK Message deleted\r\n"
              "+OK\r\n"
              "+OK Logging out (1 message left)\r\n");
    EXPECT_EQ(host.commits.at(0).deleted, (std::vector<uint8_t>{0, 1}));
}

TEST(Pipelining, ByteByByteGivesTheSameBytes)
{
    FakeHost host;
    host.messages = mailbox;
    host.send_bytewise(script);
    EXPECT_EQ(host.wire, run_whole());
}

TEST(Pipelining, EverySplitInTwoGivesTheSameBytes)
{
    const std::string expected = run_whole();
    for (std::size_t cut = 0; cut <= script.size(); ++cut) {
        FakeHost host;
        host.messages = mailbox;
        host.send(script.substr(0, cut));
        host.send(script.substr(cut));
        ASSERT_EQ(host.wire, expected) << "cut at " << cut;
    }
}

TEST(Pipelining, SaslExchangeSplitByteByByte)
{
    FakeHost host;
    host.send_bytewise("AUTH X-TEST\r\n" + base64::encode("alice secret") + "\r\nSTAT\r\n");
    EXPECT_EQ(host.wire, "+OK POP3 server ready\r\n+ " + base64::encode("who?") +
                             "\r\n+OK Logged in, 0 messages (0 octets)\r\n+OK 0 0\r\n");
}

TEST(Pipelining, NothingIsConsumedWhileAnActionIsOutstanding)
{
    FakeHost host;
    host.manual = true;
    host.messages = mailbox;
    host.send("USER alice\r\nPASS secret\r\nSTAT\r\nNOOP\r\n");
    ASSERT_EQ(host.pending.size(), 1u);
    EXPECT_EQ(host.wire, "+OK POP3 server ready\r\n+OK Send your password\r\n");
    host.send("LIST 1\r\n"); // still waiting
    EXPECT_EQ(host.pending.size(), 1u);
    host.pending.clear();
    host.engine.auth_result(Outcome::ok);
    host.pump();
    ASSERT_EQ(host.pending.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<OpenMaildrop>(host.pending.front()));
    host.pending.clear();
    host.engine.maildrop_opened({{17, "u1"}, {19, "u2"}});
    host.pump();
    EXPECT_EQ(host.wire,
              "+OK POP3 server ready\r\n+OK Send your password\r\n"
              "+OK Logged in, 2 messages (36 octets)\r\n+OK 2 36\r\n+OK\r\n+OK 1 17\r\n");
}

TEST(Pipelining, CommandsAfterRetrWaitForTheBody)
{
    FakeHost host;
    host.messages = mailbox;
    host.login();
    host.manual = true;
    const std::size_t mark = host.wire.size();
    host.send("RETR 1\r\nSTAT\r\n");
    EXPECT_EQ(host.wire.size(), mark) << "nothing until the host starts the message";
    host.pending.clear();
    host.engine.retrieve_started();
    host.pump();
    EXPECT_EQ(host.wire.substr(mark), "+OK 18 octets\r\n") << "STAT must not overtake the body";
    host.wire += "BODY.\r\n";
    host.engine.retrieve_finished(Outcome::ok);
    host.pump();
    EXPECT_EQ(host.wire.substr(mark), "+OK 18 octets\r\nBODY.\r\n+OK 2 36\r\n");
}

TEST(Pipelining, QuitBeforeEofStillCommits)
{
    FakeHost host;
    host.messages = mailbox;
    host.send("USER alice\r\nPASS secret\r\nDELE 1\r\nQUIT\r\n");
    host.engine.peer_closed();
    host.pump();
    ASSERT_EQ(host.commits.size(), 1u);
    EXPECT_FALSE(host.commits[0].early_close);
    EXPECT_EQ(host.closed, CloseReason::quit);
}

TEST(Pipelining, EofAnswersWhatIsBufferedThenDrops)
{
    FakeHost host;
    host.messages = mailbox;
    host.manual = true;
    host.send("USER alice\r\nPASS secret\r\nDELE 1\r\nSTAT\r\nLIST 1"); // last line unterminated
    host.engine.peer_closed();
    EXPECT_FALSE(host.engine.wants_input());
    host.pending.clear();
    host.engine.auth_result(Outcome::ok);
    host.pump();
    host.pending.clear();
    host.engine.maildrop_opened({{17, "u1"}, {19, "u2"}});
    host.pump();
    EXPECT_EQ(host.wire.substr(host.wire.find("+OK Logged")),
              "+OK Logged in, 2 messages (36 octets)\r\n+OK Message deleted\r\n+OK 1 19\r\n");
    EXPECT_EQ(host.closed, CloseReason::peer_closed);
    EXPECT_TRUE(host.pending.empty()) << "no commit for a drop";
}

TEST(Pipelining, BackpressureWhileBlocked)
{
    EngineConfig c;
    c.input_buffer = 100; // raised to the SASL line limit, 255 here
    c.max_sasl_line = 100;
    FakeHost host(c);
    host.manual = true;
    host.send("USER alice\r\nPASS secret\r\n");
    EXPECT_TRUE(host.engine.wants_input());
    std::string lots;
    for (int i = 0; i < 50; ++i)
        lots += "CAPA\r\n";
    host.send(lots);
    EXPECT_FALSE(host.engine.wants_input()) << "stop reading: 300 octets are waiting";
    host.pending.clear();
    host.engine.auth_result(Outcome::auth_failed);
    host.pump();
    EXPECT_TRUE(host.engine.wants_input());
}

// A client that sends without reading: once output_limit bytes wait (what
// the host has not delivered plus what it has not taken), no further
// command is answered, the input buffer fills and reading stops. Nothing is
// lost: as the backlog drains the held commands are answered in order.
TEST(Pipelining, UnreadRepliesHoldFurtherCommands)
{
    EngineConfig c;
    c.output_limit = 1000;
    c.input_buffer = 600; // raised to max_sasl_line below
    c.max_sasl_line = 600;
    Engine e(c, open_facts());
    std::string delivered = e.take_output(); // the greeting
    std::size_t undelivered = 0;
    std::string capas;
    for (int i = 0; i < 200; ++i)
        capas += "CAPA\r\n";
    std::size_t fed = 0;
    for (int guard = 0; guard < 1000 && e.wants_input() && fed < capas.size(); ++guard) {
        std::size_t n = std::min<std::size_t>(60, capas.size() - fed);
        e.feed(std::string_view(capas).substr(fed, n));
        fed += n;
        std::string out = e.take_output();
        undelivered += out.size();
        delivered += out;
        e.set_output_backlog(undelivered); // the client reads nothing
    }
    EXPECT_FALSE(e.wants_input()) << "reading stops once the input buffer is full";
    EXPECT_LT(fed, capas.size());
    const std::string one = "+OK Capability list follows\r\n";
    Engine probe(c, open_facts());
    probe.take_output();
    probe.feed("CAPA\r\n");
    const std::size_t reply_size = probe.take_output().size();
    EXPECT_LT(undelivered, c.output_limit + reply_size) << "at most one reply past the limit";
    EXPECT_FALSE(e.set_output_backlog(undelivered)) << "nothing new while still behind";

    // The client catches up: the held commands are answered, in order.
    std::size_t answered = 0;
    for (int guard = 0; guard < 1000; ++guard) {
        e.set_output_backlog(0);
        std::string out = e.take_output();
        delivered += out;
        if (fed < capas.size() && e.wants_input()) {
            std::size_t n = std::min<std::size_t>(60, capas.size() - fed);
            e.feed(std::string_view(capas).substr(fed, n));
            fed += n;
            delivered += e.take_output();
        }
        if (out.empty() && fed == capas.size())
            break;
    }
    for (std::size_t at = delivered.find(one); at != std::string::npos;
         at = delivered.find(one, at + 1))
        ++answered;
    EXPECT_EQ(fed, capas.size());
    EXPECT_EQ(answered, 200u) << "every CAPA answered exactly once";
}

// EOF while replies are held: the held commands are still answered before
// the drop, once the client has read enough.
TEST(Pipelining, EofWithHeldCommandsAnswersThemFirst)
{
    EngineConfig c;
    c.output_limit = 200;
    Engine e(c, open_facts());
    e.take_output();
    e.feed("CAPA\r\nCAPA\r\nCAPA\r\nCAPA\r\n");
    std::string out = e.take_output();
    e.set_output_backlog(out.size());
    e.peer_closed();
    EXPECT_EQ(e.state(), State::authorization) << "not dropped while commands wait";
    for (int guard = 0; guard < 100 && e.state() != State::closed; ++guard) {
        e.set_output_backlog(0);
        out += e.take_output();
    }
    EXPECT_EQ(e.state(), State::closed);
    std::size_t answered = 0;
    for (std::size_t at = out.find("+OK Capability"); at != std::string::npos;
         at = out.find("+OK Capability", at + 1))
        ++answered;
    EXPECT_EQ(answered, 4u) << "every held CAPA answered before the drop";
}

} // namespace
} // namespace modpop3d::pop3::test
