// mechanism.hpp - the server side of host-owned SASL mechanisms (CRAM-MD5,
// SCRAM-SHA-256, SCRAM-SHA-256-PLUS): pure state machines, no I/O.
//
// A Mechanism never looks a user up itself: when it needs the stored secret
// it answers need_credentials(user) and the host fetches the secret (the
// auth chain may block, so the host does it on its auth threads) and hands
// it back with credentials(). Everything else is computation on bytes the
// host passes in (already base64-decoded by the POP3 engine).
//
//   start(initial?)      -> challenge | need_credentials | failure
//   step(client bytes)   -> challenge | need_credentials | success | failure
//   credentials(secret)  -> challenge | success | failure
//
// success carries the mechanism's final server data (SCRAM's "v=..."),
// which POP3 cannot put on "+OK" (RFC 5034): the host sends it as one more
// challenge and expects an empty response. failure carries a reason for the
// log, never for the client (unknown user and wrong secret must look alike).
// After success or failure the mechanism is finished; further calls fail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modpop3d::sasl
{

// TLS channel binding data (RFC 5929 tls-unique, RFC 9266 tls-exporter) of
// the connection, from the host's TLS layer; empty when there is no TLS.
struct ChannelBinding {
    std::string type; // "tls-exporter" or "tls-unique"
    std::string data; // raw bytes
    bool available() const noexcept { return !type.empty() && !data.empty(); }
};

// The answer to need_credentials. `secret` is the stored secret with its
// scheme prefix: "{PLAIN}password" or "{SCRAM-SHA-256}i:salt:StoredKey:ServerKey".
struct Credentials {
    bool found = false; // false: unknown user, or no secret usable by the mechanism
    std::string secret;
};

struct StepResult {
    enum class Kind : uint8_t { challenge, need_credentials, success, failure };
    Kind kind = Kind::failure;
    // challenge: the bytes to send; need_credentials: the user name;
    // success: final server data (may be empty); failure: reason for the log.
    std::string data;

    static StepResult challenge(std::string d) { return {Kind::challenge, std::move(d)}; }
    static StepResult need_credentials(std::string user)
    {
        return {Kind::need_credentials, std::move(user)};
    }
    static StepResult success(std::string d) { return {Kind::success, std::move(d)}; }
    static StepResult failure(std::string why) { return {Kind::failure, std::move(why)}; }
};

// Options - what a mechanism takes from its host. Defaults suit production;
// tests replace `nonce` to replay RFC examples.
struct Options {
    // The host name in CRAM-MD5 challenges ("<random.time@hostname>").
    std::string hostname = "localhost";
    // Seconds since the epoch, for the CRAM-MD5 challenge.
    uint64_t time = 0;
    // Unpredictable text without ',' (SCRAM server nonce; the "random.time"
    // part of a CRAM-MD5 challenge). Empty function: drawn from getrandom(2).
    std::function<std::string()> nonce;
    // A secret key for made-up SCRAM salts (unknown users, and {PLAIN}
    // secrets, whose verifier is computed on the fly): the same user always
    // gets the same salt within a process, so a client cannot tell an
    // unknown user by a changing salt. Empty: a random key per mechanism.
    std::string mock_key;
    // SCRAM: the connection's channel binding (SCRAM-SHA-256-PLUS needs it).
    ChannelBinding binding;
    // SCRAM: whether the server advertised SCRAM-SHA-256-PLUS on this
    // connection (a client saying "y" then fails, RFC 5802 section 6).
    bool plus_advertised = false;
};

class Mechanism
{
  public:
    virtual ~Mechanism() = default;
    virtual std::string_view name() const noexcept = 0;
    // start - the AUTH command; `initial` is the initial response, if any
    // (an empty one is "=" on the wire).
    virtual StepResult start(const std::optional<std::string> &initial) = 0;
    // step - a client response (decoded).
    virtual StepResult step(std::string_view response) = 0;
    // credentials - the answer to need_credentials.
    virtual StepResult credentials(const Credentials &creds) = 0;
    // user - the authentication identity the client gave ("" before).
    const std::string &user() const noexcept { return user_; }

  protected:
    std::string user_;
};

// Mechanism names this code implements, upper case.
inline constexpr std::string_view cram_md5 = "CRAM-MD5";
inline constexpr std::string_view scram_sha256 = "SCRAM-SHA-256";
inline constexpr std::string_view scram_sha256_plus = "SCRAM-SHA-256-PLUS";

// make_mechanism - a new exchange of `name`, or nullptr for a name this
// code does not implement.
std::unique_ptr<Mechanism> make_mechanism(std::string_view name, Options options);

// credential_schemes - the lookup_credentials schemes a mechanism can use,
// in preference order ("SCRAM-SHA-256" then "PLAIN" for SCRAM; "PLAIN" for
// CRAM-MD5); empty for an unknown mechanism.
std::vector<std::string> credential_schemes(std::string_view name);

// default_nonce - 24 random bytes, base64 (no ',').
std::string default_nonce();

} // namespace modpop3d::sasl
