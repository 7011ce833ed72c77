// engine.hpp - the POP3 protocol engine of modpop3d: a pure state machine.
//
// The Engine does no I/O, reads no clock and draws no random numbers. The
// host (the event loop of a login or session process) drives it:
//
//   bytes from the client  -> feed()          replies  <- take_output()
//   end of input           -> peer_closed()   actions  <- next_action()
//   write error / reset    -> connection_lost()
//   idle timer fired       -> idle_timeout()
//   action results         -> auth_result(), maildrop_opened(), ...
//
// A typical loop, after every event:
//   engine.feed(bytes);
//   write(engine.take_output());
//   while (auto a = engine.next_action()) start(*a);   // see actions.hpp
//   read more only while engine.wants_input().
//
// Protocol (RFC 1939, 2449, 2595, 3206, 5034):
//  - States AUTHORIZATION -> TRANSACTION -> UPDATE, and closed. The greeting
//    is in the output as soon as the Engine is constructed; it carries the
//    host's APOP timestamp only when ConnectionFacts::apop_available.
//    Engine::resume() instead continues a login handed over by another
//    process (no greeting; it starts by opening the maildrop).
//  - Lines end in CRLF or bare LF. A command line may be max_line octets
//    long including its line end (255, RFC 2449); an AUTH command line and
//    SASL continuation lines may be max_sasl_line long. A longer line gets
//    one "-ERR Line too long", the rest of it is discarded, and after
//    max_long_lines of them the engine closes. NUL in a line is an error.
//  - Pipelining: commands are answered strictly in order. While a blocking
//    action is outstanding no further input is consumed; it stays buffered
//    until the host answers.
//  - Replies to PASS, APOP and AUTH: "+OK" only after the maildrop is open
//    and locked (OpenMaildrop). Unknown user and wrong password get the same
//    "-ERR [AUTH] Authentication failed".
//  - Plaintext policy: when ConnectionFacts::plaintext_allowed is false,
//    USER, PASS, APOP and AUTH PLAIN/LOGIN get
//    "-ERR [AUTH] Plaintext authentication requires TLS" (always [AUTH]:
//    the client may not use these credentials here), USER is left out of
//    CAPA and PLAIN/LOGIN out of SASL.
//  - STLS: "+OK", then every byte buffered after the STLS line and every byte
//    fed before tls_started() is discarded, and the USER given before TLS is
//    forgotten (CVE-2011-0411).
//  - Message numbers never change; deleted messages give "-ERR" and are left
//    out of STAT, LIST and UIDL; RSET undeletes. Commit happens only on QUIT
//    in TRANSACTION. A drop or timeout commits nothing, except that with
//    commit_on_early_close (tpop3d's behaviour) a dropped connection in
//    TRANSACTION commits (never a timeout: RFC 1939 autologout).
//  - Numbers are strict: digits only, no sign, no overflow, message 0 is
//    "-ERR". Unknown and invalid commands count as bad commands; after
//    max_bad_commands the engine closes.
//  - Reply lines never exceed 512 octets (reply.hpp); client input is never
//    echoed.
//
// Calling an answer method when that answer is not expected returns false
// and changes nothing (a host bug; log it), except where noted.
#pragma once

#include "pop3/actions.hpp"
#include "pop3/capabilities.hpp"
#include "pop3/command.hpp"
#include "pop3/outcome.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modpop3d::pop3
{

enum class State : uint8_t { authorization, transaction, update, closed };

// One message of the maildrop as the mailbox module listed it.
struct MessageInfo {
    uint64_t size = 0; // exact POP3 size (message_size.hpp)
    std::string uidl;  // 1-70 octets in 0x21-0x7E
};

struct EngineConfig {
    std::string greeting = "POP3 server ready"; // "+OK <greeting> [<timestamp>]"
    CapabilityConfig capabilities;
    std::size_t max_line = 255;         // command line, line end included (RFC 2449)
    std::size_t max_sasl_line = 8192;   // AUTH line and SASL continuation lines
    uint32_t max_long_lines = 3;        // overlong lines before closing (0 = no limit)
    uint32_t max_bad_commands = 10;     // unknown/invalid commands before closing (0 = no limit)
    uint32_t max_auth_failures = 3;     // failed logins before closing (0 = no limit)
    std::size_t input_buffer = 16384;   // wants_input() turns false beyond this (at least
                                        // max_sasl_line is always accepted)
    std::size_t output_limit = 65536;   // no further command is answered while this much
                                        // output waits (see set_output_backlog)
    bool commit_on_early_close = false; // a dropped connection in TRANSACTION commits
};

// Counters for the logout log line.
struct Stats {
    uint32_t maildrop_messages = 0; // at login
    uint64_t maildrop_octets = 0;
    uint32_t retrieved_messages = 0; // RETR answered in full (repeats count)
    uint64_t retrieved_octets = 0;
    uint32_t top_messages = 0;
    uint32_t deleted_messages = 0; // removed by a successful commit
    uint64_t deleted_octets = 0;
    uint32_t failed_logins = 0;
    uint32_t bad_commands = 0;
    uint32_t long_lines = 0;
};

class Engine
{
  public:
    // A new session: the greeting is in the output at once.
    Engine(EngineConfig config, ConnectionFacts facts);

    // resume - continue a login that an engine in another process (the login
    // process) authenticated, for a session process running as the mailbox
    // owner. The client has seen the greeting and sent PASS, APOP or AUTH,
    // which has no reply yet (RFC 1939: "+OK" only once the maildrop is open
    // and locked). The new engine therefore:
    //  - sends no greeting;
    //  - is in AUTHORIZATION awaiting the maildrop, with exactly one action
    //    queued: OpenMaildrop{user, method}; user() is `user` and
    //    login_method() is `method`;
    //  - holds `pending_input` (from the login engine's take_pending_input())
    //    as unprocessed input, consumed in order after the maildrop answer
    //    with the usual line limits and pipelining rules, as if fed then.
    // The host answers with maildrop_opened() or maildrop_failed(). From a
    // successful maildrop_opened() on, the engine is an ordinary session.
    // Unlike an ordinary engine, a resumed one cannot go back to
    // AUTHORIZATION: a failed maildrop (maildrop_failed(), or
    // maildrop_opened() refusing a UIDL) gives the usual "-ERR" and then
    // Close{maildrop_failed} (Close{auth_failures} if an auth_failed veto
    // reaches max_auth_failures first); pending input is discarded.
    // `facts` are those of the connection as the login engine knew them
    // (CAPA and the TLS state depend on them).
    static Engine resume(EngineConfig config, ConnectionFacts facts, std::string user,
                         LoginMethod method, std::string_view pending_input);

    // ---- input ----
    // feed - bytes from the client, any amount, any split.
    void feed(std::string_view bytes);
    // peer_closed - the client half-closed or the read side hit EOF: answer
    // what is buffered, then end as a drop (see commit_on_early_close).
    void peer_closed();
    // connection_lost - writing failed or the connection was reset: stop now.
    // Outstanding actions are abandoned (their answers are ignored); a
    // SaslAbort is queued for a host-owned SASL exchange; with
    // commit_on_early_close in TRANSACTION a Commit follows, then Close.
    // A Commit already under way is left to finish.
    void connection_lost();
    // idle_timeout - the host's inactivity timer fired: "-ERR" (unless a
    // message body is being sent) and Close. Commits nothing. Outstanding
    // actions are abandoned as for connection_lost(). Ignored while a Commit
    // is under way.
    void idle_timeout();
    // wants_input - false when closed, during STLS, after EOF, or while the
    // unprocessed input exceeds the buffer limit (stop reading: backpressure).
    // feed() itself never refuses bytes: the host bounds memory by obeying
    // this.
    bool wants_input() const noexcept;

    // take_pending_input - hand the client's not yet processed bytes to a
    // session process (see resume()). Allowed only in AUTHORIZATION while
    // the answer to VerifyPlain, VerifyApop or SaslStep is outstanding: after
    // next_action() gave that action and before auth_result() or
    // sasl_challenge(). For a host-owned SASL mechanism, call it only on the
    // step the host answers with auth_result(ok): bytes taken before a
    // sasl_challenge() would be lost to this engine. Returns the bytes that
    // followed the command line being authenticated (the PASS, APOP or AUTH
    // line, or the final SASL response line), exactly as received (possibly
    // empty, possibly ending in a partial line), and leaves the engine
    // holding none. Returns nullopt, changing nothing, at any other time.
    // Afterwards the host hands the connection over and abandons this
    // engine; to keep using it instead (the hand-over failed), feed() the
    // bytes back before anything else, then answer auth_result().
    std::optional<std::string> take_pending_input();

    // ---- output ----
    std::string take_output();
    // set_output_backlog - how many bytes of output the host has taken but
    // not yet delivered to the client. While that plus the output not yet
    // taken reaches output_limit, pipelined commands wait unanswered in the
    // input buffer (which then fills, and wants_input() turns false): a
    // client that sends without reading cannot make the session buffer
    // replies without bound. A lower backlog lets them go on at once;
    // returns true when that produced output or actions.
    bool set_output_backlog(std::size_t bytes);
    bool has_output() const noexcept { return !out_.empty(); }

    // ---- actions ----
    std::optional<Action> next_action();
    bool has_action() const noexcept { return !actions_.empty(); }

    // ---- answers ----
    // auth_result - for VerifyPlain, VerifyApop and SaslStep. On ok the
    // engine queues OpenMaildrop for `user` (the canonical name, or the login
    // name when empty). Any other outcome ends the login attempt (the host
    // frees its SASL state itself); auth_failed counts as a failed login.
    bool auth_result(Outcome outcome, std::string_view user = {});
    // sasl_challenge - for SaslStep: send `challenge` (raw bytes, the engine
    // base64-encodes them) and wait for the client's next response.
    bool sasl_challenge(std::string_view challenge);
    // maildrop_opened - for OpenMaildrop: the maildrop is open and locked.
    // Enters TRANSACTION and sends "+OK". Returns false (and answers
    // "-ERR [SYS/PERM]", staying in AUTHORIZATION) when a UIDL is not 1-70
    // octets of 0x21-0x7E: the host must then close the maildrop.
    bool maildrop_opened(std::vector<MessageInfo> messages, UserCapabilities user = {});
    // maildrop_failed - for OpenMaildrop: auth_failed (hook veto),
    // temp_failure, in_use, login_delay, perm_failure.
    bool maildrop_failed(Outcome outcome);
    // retrieve_started - for Retrieve: the message is readable; the engine
    // writes "+OK <size> octets" (RETR) or "+OK" (TOP). Take the output, then
    // send the encoded body and its ".\r\n".
    bool retrieve_started();
    // retrieve_finished - for Retrieve. ok after retrieve_started(): done.
    // Not ok before retrieve_started(): "-ERR" (gone, temp, perm) and the
    // session goes on. Not ok after it: Close (retrieve_failed), as the
    // multi-line response cannot be ended honestly. ok without
    // retrieve_started(): Close (protocol_misuse).
    bool retrieve_finished(Outcome outcome);
    // tls_started - for StartTls: the handshake succeeded. `facts` are the
    // connection's facts now (tls_active is forced true; the APOP timestamp
    // of the greeting is kept).
    bool tls_started(ConnectionFacts facts);
    // tls_failed - for StartTls: Close (tls_failed).
    bool tls_failed();
    // commit_finished - for Commit: "+OK" (ok) or
    // "-ERR [SYS/TEMP] Some deleted messages were not removed", then Close.
    bool commit_finished(Outcome outcome);

    // ---- observers ----
    State state() const noexcept { return state_; }
    // user - the logged-in user (canonical name), empty before login.
    const std::string &user() const noexcept { return user_; }
    std::optional<LoginMethod> login_method() const noexcept { return login_method_; }
    const Stats &stats() const noexcept { return stats_; }
    const ConnectionFacts &facts() const noexcept { return facts_; }
    // plaintext_after_stls - bytes followed the STLS line in the client's
    // input (and were discarded): an injection attempt or a broken client.
    bool plaintext_after_stls() const noexcept { return plaintext_after_stls_; }
    // apop_timestamp - the timestamp the greeting carried ("" if none).
    const std::string &apop_timestamp() const noexcept { return apop_timestamp_; }

  private:
    enum class Await : uint8_t {
        nothing,
        sasl_client, // a SASL continuation line from the client (not blocking)
        auth,
        maildrop,
        retrieve_start,
        retrieve_body,
        tls,
        commit,
    };
    enum class SaslKind : uint8_t { none, plain, login, other };
    enum class LineStatus : uint8_t { line, discarded, need_more };

    struct NoGreeting {
    };
    Engine(EngineConfig config, ConnectionFacts facts, NoGreeting);

    bool blocked() const noexcept;
    bool output_full() const noexcept { return out_.size() + backlog_ >= config_.output_limit; }
    void process();
    LineStatus next_line(std::string_view &line);
    std::size_t line_limit() const noexcept;
    void overlong_line();
    void compact_input();
    void discard_input();

    void handle_command(std::string_view line);
    void handle_authorization(const Command &cmd);
    void handle_transaction(const Command &cmd);
    void handle_sasl_response(std::string_view line);

    void cmd_user(const Command &cmd);
    void cmd_pass(const Command &cmd);
    void cmd_apop(const Command &cmd);
    void cmd_auth(const Command &cmd);
    void cmd_stls();
    void cmd_capa();
    void cmd_stat();
    void cmd_list(const Command &cmd, bool uidl);
    void cmd_retr(const Command &cmd, bool top);
    void cmd_dele(const Command &cmd);
    void cmd_rset();
    void cmd_quit();

    void sasl_plain(std::string &message);
    void verify_plain(LoginMethod method, std::string user, std::string password);
    void sasl_cancel(std::string_view reason);
    void login_failed(Outcome outcome, bool maildrop);
    void bad_command(std::string_view text);
    std::optional<uint32_t> message_number(std::string_view arg);
    std::string maildrop_summary() const;
    void send_greeting();
    void drop();
    void close(CloseReason reason);

    EngineConfig config_;
    ConnectionFacts facts_;
    std::string apop_timestamp_;
    State state_ = State::authorization;
    Await await_ = Await::nothing;

    std::string in_;
    std::size_t in_pos_ = 0;
    bool plaintext_after_stls_ = false;
    bool skipping_ = false; // discarding the rest of an overlong line
    bool eof_ = false;
    bool lost_ = false;

    std::string out_;
    std::size_t backlog_ = 0; // the host's undelivered output (set_output_backlog)
    std::deque<Action> actions_;

    std::string pending_user_; // from USER, until PASS
    bool have_user_ = false;
    std::string login_user_;
    std::optional<LoginMethod> login_method_;
    SaslKind sasl_ = SaslKind::none;
    std::string sasl_mech_;
    std::string sasl_login_user_;
    int sasl_step_ = 0;

    std::string user_;
    std::vector<MessageInfo> messages_;
    std::vector<uint8_t> deleted_;
    std::vector<uint8_t> retrieved_;
    UserCapabilities user_caps_;
    Retrieve retrieving_;
    bool early_commit_ = false;
    bool resumed_ = false; // made by resume(): no second login after a failed maildrop
    Stats stats_;
};

} // namespace modpop3d::pop3
