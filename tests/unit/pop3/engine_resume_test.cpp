// engine_resume_test.cpp - a login handed from the login process to a session
// process: take_pending_input() on the login side, Engine::resume() on the
// session side, and a session that continues as if nothing had moved.
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

// resumed - a session-process host whose engine awaits the maildrop of
// alice (USER/PASS); actions wait in `pending` until answer_pending().
FakeHost resumed(std::string_view pending_input, EngineConfig config = {},
                 LoginMethod method = LoginMethod::user_pass)
{
    FakeHost host(Engine::resume(std::move(config), open_facts(), "alice", method, pending_input),
                  true);
    host.messages = mailbox;
    return host;
}

std::vector<MessageInfo> listing()
{
    return {{18, "uid-1"}, {18, "uid-2"}};
}

const std::string logged_in = "+OK Logged in, 2 messages (36 octets)\r\n";

TEST(Resume, NoGreetingAndExactlyOneOpenMaildrop)
{
    FakeHost host = resumed("", {}, LoginMethod::apop);
    EXPECT_EQ(host.wire, "");
    ASSERT_EQ(host.actions.size(), 1u);
    const auto *open = std::get_if<OpenMaildrop>(&host.actions[0]);
    ASSERT_NE(open, nullptr);
    EXPECT_EQ(open->user, "alice");
    EXPECT_EQ(open->method, LoginMethod::apop);
    EXPECT_EQ(host.engine.state(), State::authorization);
    EXPECT_EQ(host.engine.user(), "alice");
    EXPECT_EQ(host.engine.login_method(), LoginMethod::apop);
    EXPECT_FALSE(host.engine.has_output());
    EXPECT_FALSE(host.engine.has_action());
    // It awaits the maildrop, not a login.
    EXPECT_FALSE(host.engine.auth_result(Outcome::ok));
    EXPECT_TRUE(host.engine.maildrop_opened(listing()));
    EXPECT_EQ(host.wire + host.engine.take_output(), logged_in);
    EXPECT_EQ(host.engine.state(), State::transaction);
}

TEST(Resume, PendingCommandsWaitForTheMaildropThenAnswerInOrder)
{
    FakeHost host = resumed("STAT\r\nLIST\r\n");
    EXPECT_EQ(host.wire, "");
    // More pipelined input arriving before the answer waits too.
    EXPECT_EQ(host.send("NOOP\r\n"), "");
    host.answer_pending();
    EXPECT_EQ(host.wire, logged_in + "+OK 2 36\r\n"
                                     "+OK 2 messages (36 octets)\r\n1 18\r\n2 18\r\n.\r\n"
                                     "+OK\r\n");
    EXPECT_EQ(host.engine.state(), State::transaction);
    EXPECT_TRUE(host.closed == std::nullopt);
}

TEST(Resume, MaildropFailureGivesTheUsualErrThenCloses)
{
    const std::pair<Outcome, std::string> cases[] = {
        {Outcome::in_use, "-ERR [IN-USE] The maildrop is locked by another session\r\n"},
        {Outcome::temp_failure, "-ERR [SYS/TEMP] Unable to open the maildrop, try again later\r\n"},
        {Outcome::perm_failure, "-ERR [SYS/PERM] Unable to open the maildrop\r\n"},
        {Outcome::login_delay, "-ERR [LOGIN-DELAY] Too soon since the last login\r\n"},
        {Outcome::auth_failed, "-ERR [AUTH] Authentication failed\r\n"},
    };
    for (const auto &[outcome, text] : cases) {
        // The same reply an ordinary engine gives, which stays in AUTHORIZATION.
        FakeHost plain;
        plain.maildrop_outcome = outcome;
        EXPECT_EQ(plain.login(), text);
        EXPECT_EQ(plain.engine.state(), State::authorization);
        EXPECT_TRUE(plain.closed == std::nullopt);

        FakeHost host = resumed("STAT\r\nUSER bob\r\n");
        host.maildrop_outcome = outcome;
        host.answer_pending();
        EXPECT_EQ(host.wire, text) << "pending commands must not be answered";
        EXPECT_EQ(host.engine.state(), State::closed);
        EXPECT_EQ(host.closed, CloseReason::maildrop_failed);
        EXPECT_EQ(host.engine.user(), "");
        EXPECT_FALSE(host.engine.wants_input());
        EXPECT_EQ(count_of<Commit>(host.actions), 0u);
    }
}

TEST(Resume, RefusedListingClosesToo)
{
    FakeHost host = resumed("STAT\r\n");
    EXPECT_FALSE(host.engine.maildrop_opened({{10, "bad uid"}}));
    host.pump();
    EXPECT_EQ(host.wire, "-ERR [SYS/PERM] Unable to open the maildrop\r\n");
    EXPECT_EQ(host.closed, CloseReason::maildrop_failed);
}

TEST(Resume, PartialPendingLineIsCompletedByLaterInput)
{
    FakeHost host = resumed("STAT\r\nLI");
    host.answer_pending();
    EXPECT_EQ(host.wire, logged_in + "+OK 2 36\r\n");
    EXPECT_EQ(host.send("ST 2\r\n"), "+OK 2 18\r\n");
}

TEST(Resume, OverlongPendingLineGetsTheUsualTreatment)
{
    const std::string pending = std::string(300, 'A') + "\r\nNOOP\r\n" + std::string(300, 'B');
    FakeHost host = resumed(pending);
    host.answer_pending();
    EXPECT_EQ(host.wire, logged_in + "-ERR Line too long\r\n+OK\r\n-ERR Line too long\r\n");
    // The rest of the second overlong line is still skipped.
    EXPECT_EQ(host.send("BBB\r\nSTAT\r\n"), "+OK 2 36\r\n");
    EXPECT_EQ(host.engine.stats().long_lines, 2u);

    // And the limit closes the session, as always.
    EngineConfig strict;
    strict.max_long_lines = 1;
    FakeHost closing = resumed(std::string(300, 'A') + "\r\nSTAT\r\n", strict);
    closing.answer_pending();
    EXPECT_EQ(closing.wire, logged_in + "-ERR Line too long\r\n");
    EXPECT_EQ(closing.closed, CloseReason::long_lines);
}

TEST(Resume, QuitCommits)
{
    FakeHost host = resumed("DELE 1\r\nRETR 2\r\nQUIT\r\n");
    host.answer_pending();
    EXPECT_EQ(host.wire, logged_in + "+OK Message deleted\r\n+OK 18 octets\r\n"
                                     "Subject: b\r\n\r\nyy\r\n.\r\n"
                                     "+OK Logging out (1 message left)\r\n");
    ASSERT_EQ(host.commits.size(), 1u);
    EXPECT_EQ(host.commits[0].deleted, (std::vector<uint8_t>{1, 0}));
    EXPECT_EQ(host.commits[0].retrieved, (std::vector<uint8_t>{0, 1}));
    EXPECT_FALSE(host.commits[0].early_close);
    EXPECT_EQ(host.closed, CloseReason::quit);
}

TEST(Resume, DropCommitsOnlyUnderCommitOnEarlyClose)
{
    FakeHost host = resumed("DELE 1\r\n");
    host.engine.peer_closed(); // EOF before the maildrop answer: answered first
    host.answer_pending();
    EXPECT_EQ(host.wire, logged_in + "+OK Message deleted\r\n");
    EXPECT_TRUE(host.commits.empty());
    EXPECT_EQ(host.closed, CloseReason::peer_closed);

    EngineConfig tpop3d;
    tpop3d.commit_on_early_close = true;
    FakeHost early = resumed("DELE 1\r\n", tpop3d);
    early.answer_pending();
    early.engine.peer_closed();
    early.pump();
    ASSERT_EQ(early.commits.size(), 1u);
    EXPECT_TRUE(early.commits[0].early_close);
    EXPECT_EQ(early.commits[0].deleted, (std::vector<uint8_t>{1, 0}));
    EXPECT_EQ(early.closed, CloseReason::peer_closed);
}

// ---------------------------------------------------------------- take_pending_input

TEST(TakePendingInput, ReturnsExactlyTheBytesAfterPass)
{
    FakeHost host;
    host.manual = true;
    host.send("USER a\r\nPASS x\r\nSTAT\r\nNOOP\r\n");
    ASSERT_EQ(host.pending.size(), 1u);
    const auto *v = std::get_if<VerifyPlain>(&host.pending.front());
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->password, "x");
    EXPECT_EQ(host.engine.take_pending_input(), "STAT\r\nNOOP\r\n"s);
    // The engine holds none now.
    EXPECT_EQ(host.engine.take_pending_input(), ""s);
    EXPECT_TRUE(host.engine.auth_result(Outcome::ok, "a"));
    EXPECT_TRUE(host.engine.maildrop_opened({}));
    EXPECT_EQ(host.engine.take_output(), "+OK Logged in, 0 messages (0 octets)\r\n");
}

TEST(TakePendingInput, KeepsAPartialLineAndBareLf)
{
    FakeHost host;
    host.manual = true;
    host.send("USER a\nPASS x\nSTAT\nLIST 1\r\nRE");
    EXPECT_EQ(host.engine.take_pending_input(), "STAT\nLIST 1\r\nRE"s);
}

TEST(TakePendingInput, AfterApopAndAfterTheFinalSaslStep)
{
    ConnectionFacts facts = open_facts();
    facts.apop_available = true;
    facts.apop_timestamp = "<1.2@host>";
    FakeHost apop({}, facts);
    apop.manual = true;
    apop.send("APOP alice 0123456789abcdef0123456789abcdef\r\nUIDL\r\n");
    ASSERT_TRUE(std::holds_alternative<VerifyApop>(apop.pending.at(0)));
    EXPECT_EQ(apop.engine.take_pending_input(), "UIDL\r\n"s);

    FakeHost sasl;
    sasl.manual = true;
    const std::string response = base64::encode("alice secret");
    sasl.send("AUTH X-TEST\r\n");
    ASSERT_TRUE(std::holds_alternative<SaslStep>(sasl.pending.at(0)));
    sasl.pending.clear();
    ASSERT_TRUE(sasl.engine.sasl_challenge("who?"));
    sasl.send(response + "\r\nSTAT\r\nQUIT\r\n");
    ASSERT_EQ(sasl.pending.size(), 1u);
    EXPECT_FALSE(std::get<SaslStep>(sasl.pending.at(0)).first);
    EXPECT_EQ(sasl.engine.take_pending_input(), "STAT\r\nQUIT\r\n"s);
}

TEST(TakePendingInput, RefusedOutsideAPendingLoginAndChangesNothing)
{
    FakeHost host;
    host.manual = true;
    EXPECT_EQ(host.engine.take_pending_input(), std::nullopt); // greeting sent
    host.send("USER a\r\nPA");
    EXPECT_EQ(host.engine.take_pending_input(), std::nullopt); // after USER
    host.send("SS x\r\nSTAT\r\n");
    ASSERT_EQ(host.pending.size(), 1u);
    EXPECT_EQ(std::get<VerifyPlain>(host.pending.at(0)).password, "x"); // "PA" was kept
    ASSERT_TRUE(host.engine.auth_result(Outcome::ok));
    EXPECT_EQ(host.engine.take_pending_input(), std::nullopt); // awaiting the maildrop
    ASSERT_TRUE(host.engine.maildrop_opened({}));
    // STAT was still there: it is answered after the login.
    EXPECT_EQ(host.engine.take_output(), "+OK Logged in, 0 messages (0 octets)\r\n+OK 0 0\r\n");
    host.send("NOOP\r\nRE");
    EXPECT_EQ(host.engine.take_pending_input(), std::nullopt); // TRANSACTION
    EXPECT_EQ(host.send("TR 1\r\n"), "-ERR No such message\r\n");

    FakeHost sasl;
    sasl.send("AUTH PLAIN\r\n");
    EXPECT_EQ(sasl.engine.take_pending_input(), std::nullopt); // awaiting the client

    FakeHost failed;
    failed.manual = true;
    failed.send("USER a\r\nPASS x\r\nNOOP\r\n");
    ASSERT_TRUE(failed.engine.auth_result(Outcome::auth_failed));
    EXPECT_EQ(failed.engine.take_pending_input(), std::nullopt); // login over

    FakeHost closed;
    closed.send("QUIT\r\n");
    EXPECT_EQ(closed.engine.take_pending_input(), std::nullopt);

    FakeHost lost;
    lost.manual = true;
    lost.send("USER a\r\nPASS x\r\nNOOP\r\n");
    lost.engine.connection_lost();
    EXPECT_EQ(lost.engine.take_pending_input(), std::nullopt);
}

TEST(TakePendingInput, FeedingTheBytesBackUndoesIt)
{
    FakeHost host;
    host.manual = true;
    host.send("USER alice\r\nPASS secret\r\nSTAT\r\n");
    const std::optional<std::string> taken = host.engine.take_pending_input();
    ASSERT_EQ(taken, "STAT\r\n"s);
    host.engine.feed(*taken);
    host.answer_pending();
    EXPECT_EQ(host.wire, "+OK POP3 server ready\r\n+OK Send your password\r\n"
                         "+OK Logged in, 0 messages (0 octets)\r\n+OK 0 0\r\n");
}

// The hand-over is invisible to the client: for every split of the client's
// bytes between what the login process read and what the session process
// reads later, login side + session side write what one engine would.
TEST(TakePendingInput, HandOverGivesTheSameWireAsOneEngine)
{
    const std::string script =
        "CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nLIST\nRETR 1\r\nDELE 2\r\nQUIT\r\n";
    FakeHost whole;
    whole.messages = mailbox;
    whole.send(script);

    for (std::size_t cut = 0; cut <= script.size(); ++cut) {
        FakeHost login;
        login.manual = true;
        login.send(script.substr(0, cut));
        std::string later = script.substr(cut);
        if (login.pending.empty()) { // the login process had not read PASS yet
            login.send(later);
            later.clear();
        }
        ASSERT_EQ(login.pending.size(), 1u) << "cut at " << cut;
        ASSERT_TRUE(std::holds_alternative<VerifyPlain>(login.pending.front()));
        const std::optional<std::string> taken = login.engine.take_pending_input();
        ASSERT_TRUE(taken.has_value());
        login.pump();

        FakeHost session = resumed(*taken);
        session.answer_pending();
        session.send(later);
        ASSERT_EQ(login.wire + session.wire, whole.wire) << "cut at " << cut;
        ASSERT_EQ(session.commits.size(), 1u);
        EXPECT_EQ(session.commits[0].deleted, whole.commits.at(0).deleted);
    }
}

} // namespace
} // namespace modpop3d::pop3::test
