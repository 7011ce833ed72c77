// actions.hpp - what the engine asks its host to do.
//
// The engine never does I/O. When a command needs the outside world it
// queues an Action; the host takes it with Engine::next_action(), performs
// it (asynchronously if it likes) and reports back through the matching
// Engine method. While a *blocking* action is outstanding the engine reads
// no further input, so pipelined commands wait their turn. Notices
// (SaslAbort, Close) need no answer.
//
//   action         answer(s)                                   blocking
//   VerifyPlain    auth_result()                               yes
//   VerifyApop     auth_result()                               yes
//   SaslStep       sasl_challenge() or auth_result()           yes
//   OpenMaildrop   maildrop_opened() or maildrop_failed()      yes
//   Retrieve       retrieve_started(), then retrieve_finished() yes
//   StartTls       tls_started() or tls_failed()               yes
//   Commit         commit_finished()                           yes
//   SaslAbort      -                                           no
//   Close          -                                           no (final)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace modpop3d::pop3
{

// How the client logged in (for logs and for OpenMaildrop).
enum class LoginMethod : uint8_t { user_pass, apop, sasl_plain, sasl_login, sasl_other };

// Check a user name and plaintext password: USER/PASS, AUTH PLAIN (the
// authzid, if any, equals the user: the engine refuses proxy logins) and
// AUTH LOGIN. Passwords are never logged; wipe it when done.
struct VerifyPlain {
    LoginMethod method = LoginMethod::user_pass;
    std::string user;
    std::string password;
};

// Check an APOP digest: the host looks up the user's secret and compares
// `digest` (32 lower-case hex digits) with MD5(timestamp + secret) in
// constant time. `timestamp` is exactly what the greeting carried.
struct VerifyApop {
    std::string user;
    std::string digest;
    std::string timestamp;
};

// One step of a host-owned SASL mechanism (CRAM-MD5, SCRAM-SHA-256, ...).
// `first` is set on the step that starts the exchange; `response` is the
// decoded client data (the initial response on the first step, if the client
// sent one: has_response tells "no initial response" from "empty one").
struct SaslStep {
    std::string mechanism; // upper case
    std::string response;
    bool first = false;
    bool has_response = false;
};

// The client cancelled ("*") or broke (bad base64, line too long) a
// host-owned SASL exchange: free its state. No answer.
struct SaslAbort {
    std::string mechanism;
};

// The credentials were good: open and lock the maildrop of `user` (the
// canonical name the host gave to auth_result, or the login name).
struct OpenMaildrop {
    std::string user;
    LoginMethod method = LoginMethod::user_pass;
};

// Send message `number` (1-based; `index` = number - 1 is the position in
// the list given to maildrop_opened). For TOP, top_lines is set. The host
// reads the message, calls retrieve_started() before the first body byte
// (the engine then writes the "+OK" line), sends the body through a
// MessageEncoder(top_lines) after taking the engine's output, and calls
// retrieve_finished().
struct Retrieve {
    uint32_t number = 0;
    uint32_t index = 0;
    uint64_t size = 0;
    std::optional<uint32_t> top_lines;
};

// STLS was accepted: flush the engine's output ("+OK Begin TLS ..."),
// discard any plaintext the host itself still buffers, run the handshake,
// then call tls_started() or tls_failed(). The engine has already dropped
// every byte that followed the STLS line and drops any fed before the
// answer (CVE-2011-0411).
struct StartTls {
};

// UPDATE state: apply deletions. Flags are per message index (1 = yes).
// `early_close` marks a commit for a dropped connection under
// commit_on_early_close (no reply will be sent).
struct Commit {
    std::vector<uint8_t> deleted;
    std::vector<uint8_t> retrieved; // RETR'd (TOP does not count)
    bool early_close = false;
};

enum class CloseReason : uint8_t {
    quit,            // the client said QUIT
    peer_closed,     // the client went away (EOF or connection lost)
    timeout,         // the host's idle timer fired
    bad_commands,    // too many unknown or invalid commands
    long_lines,      // too many overlong command lines
    auth_failures,   // too many failed logins
    tls_failed,      // the STLS handshake failed
    retrieve_failed, // a message failed after its "+OK": the response cannot be ended
    protocol_misuse, // the host answered an action out of turn (a bug)
    maildrop_failed, // a resumed login (Engine::resume) could not open its maildrop: the
                     // session process cannot run another login
};

// Flush the engine's output, close the connection and the maildrop (if one
// is open: close deletes nothing; a Commit, if any, came first). Final.
struct Close {
    CloseReason reason = CloseReason::quit;
};

using Action = std::variant<VerifyPlain, VerifyApop, SaslStep, SaslAbort, OpenMaildrop, Retrieve,
                            StartTls, Commit, Close>;

} // namespace modpop3d::pop3
