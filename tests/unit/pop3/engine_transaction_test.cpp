// engine_transaction_test.cpp - the TRANSACTION and UPDATE states: every
// command, stable numbering, DELE/RSET/QUIT semantics, drops that commit
// nothing, retrieval outcomes and the logout counters.
#include "fake_host.hpp"

#include <gtest/gtest.h>
#include <string>

namespace modpop3d::pop3::test
{
namespace
{

// A host logged in as alice with three messages.
struct Session : FakeHost {
    explicit Session(EngineConfig c = {}) : FakeHost(std::move(c))
    {
        messages = {"Subject: 1\n\nbody one\n", "Subject: 2\n\n.dotted\nline 2\nline 3\n",
                    "Subject: 3\n\nthree"};
        login();
    }
};

TEST(Transaction, LoggedIn)
{
    Session s;
    EXPECT_EQ(s.engine.state(), State::transaction);
    EXPECT_EQ(s.engine.stats().maildrop_messages, 3u);
    EXPECT_EQ(s.engine.stats().maildrop_octets, 24u + 39u + 19u);
    EXPECT_EQ(s.send("STAT\r\n"), "+OK 3 82\r\n");
}

TEST(Transaction, ListAndUidl)
{
    Session s;
    EXPECT_EQ(s.send("LIST\r\n"), "+OK 3 messages (82 octets)\r\n1 24\r\n2 39\r\n3 19\r\n.\r\n");
    EXPECT_EQ(s.send("list 3\r\n"), "+OK 3 19\r\n");
    EXPECT_EQ(s.send("UIDL\r\n"),
              "+OK Unique-ID listing follows\r\n1 uid-1\r\n2 uid-2\r\n3 uid-3\r\n.\r\n");
    EXPECT_EQ(s.send("UIDL 1\r\n"), "+OK 1 uid-1\r\n");
}

TEST(Transaction, Retr)
{
    Session s;
    EXPECT_EQ(s.send("RETR 2\r\n"),
              "+OK 39 octets\r\nSubject: 2\r\n\r\n..dotted\r\nline 2\r\nline 3\r\n.\r\n");
    EXPECT_EQ(s.send("RETR 3\r\n"), "+OK 19 octets\r\nSubject: 3\r\n\r\nthree\r\n.\r\n");
    const Retrieve &r = std::get<Retrieve>(s.actions.at(2));
    EXPECT_EQ(r.number, 2u);
    EXPECT_EQ(r.index, 1u);
    EXPECT_EQ(r.size, 39u);
    EXPECT_FALSE(r.top_lines);
    EXPECT_EQ(s.engine.stats().retrieved_messages, 2u);
    EXPECT_EQ(s.engine.stats().retrieved_octets, 58u);
}

TEST(Transaction, Top)
{
    Session s;
    EXPECT_EQ(s.send("TOP 2 0\r\n"), "+OK Top of message follows\r\nSubject: 2\r\n\r\n.\r\n");
    EXPECT_EQ(s.send("TOP 2 1\r\n"),
              "+OK Top of message follows\r\nSubject: 2\r\n\r\n..dotted\r\n.\r\n");
    EXPECT_EQ(s.send("TOP 2 99\r\n"), "+OK Top of message follows\r\nSubject: 2\r\n\r\n"
                                      "..dotted\r\nline 2\r\nline 3\r\n.\r\n");
    EXPECT_EQ(std::get<Retrieve>(s.actions.back()).top_lines, 99u);
    EXPECT_EQ(s.engine.stats().top_messages, 3u);
    EXPECT_EQ(s.engine.stats().retrieved_messages, 0u) << "TOP is not a retrieval";
    s.send("QUIT\r\n");
    EXPECT_EQ(s.commits.at(0).retrieved, (std::vector<uint8_t>{0, 0, 0}));
}

TEST(Transaction, TopArgumentErrors)
{
    Session s;
    EXPECT_EQ(s.send("TOP 1 -1\r\n"), "-ERR Invalid line count\r\n");
    EXPECT_EQ(s.send("TOP 1 4294967296\r\n"), "-ERR Invalid line count\r\n");
    EXPECT_EQ(s.send("TOP 0 1\r\n"), "-ERR No such message\r\n");
    EXPECT_EQ(s.send("TOP 4 1\r\n"), "-ERR No such message\r\n");
    EXPECT_EQ(s.send("TOP 1\r\n"), "-ERR Syntax error\r\n");
    EXPECT_EQ(s.send("TOP\r\n"), "-ERR Syntax error\r\n");
}

TEST(Transaction, StrictMessageNumbers)
{
    Session s;
    for (const char *cmd : {"LIST 4294967297", "LIST -1", "LIST +1", "LIST 1x", "LIST 0x1",
                            "RETR 4294967297", "DELE 1.0", "UIDL 01a"})
        EXPECT_EQ(s.send(std::string(cmd) + "\r\n"), "-ERR Invalid message number\r\n") << cmd;
    for (const char *cmd : {"LIST 0", "RETR 0", "DELE 0", "UIDL 0", "LIST 4", "RETR 4294967295"})
        EXPECT_EQ(s.send(std::string(cmd) + "\r\n"), "-ERR No such message\r\n") << cmd;
    EXPECT_EQ(s.send("LIST 001\r\n"), "+OK 1 24\r\n") << "leading zeros are still decimal";
    EXPECT_EQ(count_of<Retrieve>(s.actions), 0u);
}

TEST(Transaction, DeletedMessagesKeepTheirNumbers)
{
    Session s;
    EXPECT_EQ(s.send("DELE 2\r\n"), "+OK Message deleted\r\n");
    EXPECT_EQ(s.send("STAT\r\n"), "+OK 2 43\r\n");
    EXPECT_EQ(s.send("LIST\r\n"), "+OK 2 messages (43 octets)\r\n1 24\r\n3 19\r\n.\r\n");
    EXPECT_EQ(s.send("UIDL\r\n"), "+OK Unique-ID listing follows\r\n1 uid-1\r\n3 uid-3\r\n.\r\n");
    EXPECT_EQ(s.send("LIST 3\r\n"), "+OK 3 19\r\n");
    for (const char *cmd : {"LIST 2", "UIDL 2", "RETR 2", "TOP 2 0", "DELE 2"})
        EXPECT_EQ(s.send(std::string(cmd) + "\r\n"), "-ERR Message is deleted\r\n") << cmd;
}

TEST(Transaction, RsetUndeletes)
{
    Session s;
    s.send("DELE 1\r\nDELE 3\r\n");
    EXPECT_EQ(s.send("RSET\r\n"), "+OK 3 messages (82 octets)\r\n");
    EXPECT_EQ(s.send("LIST 1\r\n"), "+OK 1 24\r\n");
    s.send("DELE 2\r\n");
    EXPECT_EQ(s.send("QUIT\r\n"), "+OK Logging out (2 messages left)\r\n");
    EXPECT_EQ(s.commits.at(0).deleted, (std::vector<uint8_t>{0, 1, 0}));
    EXPECT_EQ(s.engine.stats().deleted_messages, 1u);
    EXPECT_EQ(s.engine.stats().deleted_octets, 39u);
}

TEST(Transaction, NoopAndCapa)
{
    EngineConfig c;
    c.capabilities.implementation = "modpop3d";
    Session s(c);
    EXPECT_EQ(s.send("NOOP\r\n"), "+OK\r\n");
    EXPECT_EQ(s.send("CAPA\r\n"), "+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\n"
                                  "SASL PLAIN LOGIN X-TEST\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
                                  "PIPELINING\r\nIMPLEMENTATION modpop3d\r\n.\r\n");
}

TEST(Transaction, LoginCommandsAreRefused)
{
    Session s;
    for (const char *cmd : {"USER alice", "PASS secret",
                            "APOP alice 0123456789abcdef0123456789abcdef", "AUTH PLAIN", "STLS"})
        EXPECT_EQ(s.send(std::string(cmd) + "\r\n"), "-ERR Already logged in\r\n") << cmd;
    EXPECT_EQ(s.engine.state(), State::transaction);
    EXPECT_EQ(count_of<VerifyPlain>(s.actions), 1u);
}

TEST(Update, QuitCommitsDeletedAndRetrieved)
{
    Session s;
    s.send("RETR 1\r\nDELE 1\r\nRETR 3\r\n");
    EXPECT_EQ(s.send("QUIT\r\n"), "+OK Logging out (2 messages left)\r\n");
    ASSERT_EQ(s.commits.size(), 1u);
    EXPECT_EQ(s.commits[0].deleted, (std::vector<uint8_t>{1, 0, 0}));
    EXPECT_EQ(s.commits[0].retrieved, (std::vector<uint8_t>{1, 0, 1}));
    EXPECT_EQ(s.closed, CloseReason::quit);
}

TEST(Update, FailedCommitSaysSo)
{
    Session s;
    s.commit_outcome = Outcome::temp_failure;
    s.send("DELE 1\r\n");
    EXPECT_EQ(s.send("QUIT\r\n"), "-ERR [SYS/TEMP] Some deleted messages were not removed\r\n");
    EXPECT_EQ(s.engine.stats().deleted_messages, 0u);
    EXPECT_EQ(s.closed, CloseReason::quit);
}

TEST(Update, NoInputIsReadWhileCommitting)
{
    Session s;
    s.manual = true;
    EXPECT_EQ(s.send("QUIT\r\nNOOP\r\n"), "");
    EXPECT_EQ(s.engine.state(), State::update);
    s.engine.idle_timeout(); // ignored: the commit is under way
    s.engine.connection_lost();
    EXPECT_TRUE(std::holds_alternative<Commit>(s.pending.at(0)));
    EXPECT_TRUE(s.engine.commit_finished(Outcome::ok));
    s.pump();
    EXPECT_EQ(s.closed, CloseReason::peer_closed);
    EXPECT_EQ(s.engine.stats().deleted_messages, 0u);
    EXPECT_EQ(s.wire.find("NOOP"), std::string::npos);
}

TEST(Drops, PeerClosedCommitsNothing)
{
    Session s;
    s.send("DELE 1\r\nDELE 2\r\n");
    s.engine.peer_closed();
    s.pump();
    EXPECT_TRUE(s.commits.empty());
    EXPECT_EQ(s.closed, CloseReason::peer_closed);
}

TEST(Drops, ConnectionLostCommitsNothing)
{
    Session s;
    s.send("DELE 1\r\n");
    s.engine.connection_lost();
    s.pump();
    EXPECT_TRUE(s.commits.empty());
    EXPECT_EQ(s.closed, CloseReason::peer_closed);
}

TEST(Drops, TimeoutCommitsNothingEvenWithCommitOnEarlyClose)
{
    EngineConfig c;
    c.commit_on_early_close = true;
    Session s(c);
    s.send("DELE 1\r\n");
    s.engine.idle_timeout();
    s.pump();
    EXPECT_TRUE(s.commits.empty());
    EXPECT_EQ(s.closed, CloseReason::timeout);
    EXPECT_EQ(s.wire.substr(s.wire.rfind("-ERR")), "-ERR Disconnected for inactivity\r\n");
}

TEST(Drops, CommitOnEarlyCloseCommitsADrop)
{
    EngineConfig c;
    c.commit_on_early_close = true;
    Session s(c);
    s.send("DELE 3\r\n");
    const std::string before = s.wire;
    s.engine.peer_closed();
    s.pump();
    ASSERT_EQ(s.commits.size(), 1u);
    EXPECT_TRUE(s.commits[0].early_close);
    EXPECT_EQ(s.commits[0].deleted, (std::vector<uint8_t>{0, 0, 1}));
    EXPECT_EQ(s.closed, CloseReason::peer_closed);
    EXPECT_EQ(s.wire, before) << "no reply to a connection that is gone";
}

TEST(Drops, CommitOnEarlyCloseNeedsTransaction)
{
    EngineConfig c;
    c.commit_on_early_close = true;
    FakeHost host(c);
    host.send("USER alice\r\n");
    host.engine.peer_closed();
    host.pump();
    EXPECT_TRUE(host.commits.empty());
    EXPECT_EQ(host.closed, CloseReason::peer_closed);
}

TEST(Retrieval, GoneBeforeStartIsAnErrForThatCommandOnly)
{
    Session s;
    s.manual = true;
    s.send("RETR 1\r\nNOOP\r\n");
    s.pending.clear();
    EXPECT_TRUE(s.engine.retrieve_finished(Outcome::gone));
    s.pump();
    EXPECT_EQ(s.wire.substr(s.wire.find("-ERR")), "-ERR Message is no longer available\r\n+OK\r\n");
    EXPECT_EQ(s.engine.state(), State::transaction);
    EXPECT_EQ(s.engine.stats().retrieved_messages, 0u);
}

TEST(Retrieval, TemporaryAndPermanentFailuresBeforeStart)
{
    Session s;
    s.manual = true;
    s.send("RETR 1\r\n");
    s.engine.retrieve_finished(Outcome::temp_failure);
    s.send("TOP 1 1\r\n");
    s.engine.retrieve_finished(Outcome::perm_failure);
    s.pump();
    EXPECT_NE(s.wire.find("-ERR [SYS/TEMP] Unable to read the message, try again later\r\n"),
              std::string::npos);
    EXPECT_NE(s.wire.find("-ERR [SYS/PERM] Unable to read the message\r\n"), std::string::npos);
}

TEST(Retrieval, FailureAfterStartCloses)
{
    Session s;
    s.manual = true;
    s.send("RETR 1\r\nDELE 1\r\nQUIT\r\n");
    EXPECT_TRUE(s.engine.retrieve_started());
    s.pump();
    EXPECT_EQ(s.wire.substr(s.wire.rfind("+OK")), "+OK 24 octets\r\n");
    EXPECT_TRUE(s.engine.retrieve_finished(Outcome::temp_failure));
    s.pump();
    EXPECT_EQ(s.closed, CloseReason::retrieve_failed);
    EXPECT_EQ(count_of<Commit>(s.actions), 0u) << "the pipelined QUIT is never reached";
}

TEST(Retrieval, TimeoutDuringTheBodyAddsNoReplyLine)
{
    Session s;
    s.manual = true;
    s.send("RETR 1\r\n");
    s.engine.retrieve_started();
    s.pump();
    const std::string before = s.wire;
    s.engine.idle_timeout();
    s.pump();
    EXPECT_EQ(s.wire, before) << "a -ERR here would become part of the message";
    EXPECT_EQ(s.closed, CloseReason::timeout);
    EXPECT_FALSE(s.engine.retrieve_finished(Outcome::ok)) << "the retrieval was abandoned";
}

TEST(Retrieval, FinishedWithoutStartIsMisuse)
{
    Session s;
    s.manual = true;
    s.send("RETR 1\r\n");
    EXPECT_FALSE(s.engine.retrieve_finished(Outcome::ok));
    s.pump();
    EXPECT_EQ(s.closed, CloseReason::protocol_misuse);
}

TEST(Retrieval, EmptyMailbox)
{
    FakeHost host;
    host.login();
    EXPECT_EQ(host.send("STAT\r\n"), "+OK 0 0\r\n");
    EXPECT_EQ(host.send("LIST\r\n"), "+OK 0 messages (0 octets)\r\n.\r\n");
    EXPECT_EQ(host.send("RETR 1\r\n"), "-ERR No such message\r\n");
    EXPECT_EQ(host.send("QUIT\r\n"), "+OK Logging out (maildrop empty)\r\n");
}

} // namespace
} // namespace modpop3d::pop3::test
