// capabilities.hpp - what CAPA (RFC 2449) and bare AUTH (RFC 5034) list.
//
// CAPA advertises only what is true for this connection in this state:
//   TOP, UIDL, RESP-CODES, AUTH-RESP-CODE, PIPELINING  when enabled;
//   USER                  when plaintext login is allowed on the connection;
//   SASL mech...          the usable mechanisms (PLAIN and LOGIN only when
//                         plaintext login is allowed), if any;
//   STLS                  AUTHORIZATION only, when STLS is offered on this
//                         listener and TLS is not active yet;
//   LOGIN-DELAY n, EXPIRE n|NEVER  when configured; before login "USER" is
//                         appended when the value varies per user, after
//                         login the user's own value is shown;
//   IMPLEMENTATION text   TRANSACTION only (unless implementation_pre_login).
// Capabilities listed before login are listed after login too (RFC 2449
// section 5), except STLS, which is valid before login only (RFC 2595).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modpop3d::pop3
{

// RFC 2449 EXPIRE: days, or never.
struct Expire {
    bool never = false;
    uint32_t days = 0;
};

// Server-wide capability settings (from the configuration file).
struct CapabilityConfig {
    bool top = true;
    bool uidl = true;
    bool resp_codes = true;
    bool auth_resp_code = true;
    bool pipelining = true;
    std::optional<uint32_t> login_delay; // seconds; LOGIN-DELAY not listed when unset
    bool login_delay_per_user = false;   // "LOGIN-DELAY n USER" before login
    std::optional<Expire> expire;        // EXPIRE not listed when unset
    bool expire_per_user = false;        // "EXPIRE n USER" before login
    std::string implementation;          // IMPLEMENTATION not listed when empty
    bool implementation_pre_login = false;
};

// Per-connection facts the host knows (the engine keeps its own copy and
// updates it when TLS starts).
struct ConnectionFacts {
    bool tls_active = false;        // implicit TLS, or STLS done
    bool stls_available = false;    // this listener offers STLS (certificate loaded)
    bool plaintext_allowed = false; // USER/PASS, APOP, AUTH PLAIN/LOGIN allowed here
                                    // (host policy: TLS active, loopback, trusted nets)
    bool apop_available = false;    // APOP enabled and some auth module can serve it
    std::string apop_timestamp;     // "<...@host>" for the greeting, host-generated
    // SASL mechanisms the server offers, upper case, in preference order.
    // PLAIN and LOGIN are run by the engine; any other is host-owned
    // (SaslStep actions).
    std::vector<std::string> sasl_mechanisms;
};

// Per-user values the host learnt at login (shown after login).
struct UserCapabilities {
    std::optional<uint32_t> login_delay;
    std::optional<Expire> expire;
};

// is_plaintext_mechanism - PLAIN and LOGIN carry the password in the clear.
bool is_plaintext_mechanism(std::string_view mechanism) noexcept;

// usable_mechanisms - the mechanisms a client may use on this connection.
std::vector<std::string> usable_mechanisms(const ConnectionFacts &facts);

// capability_lines - the CAPA lines (without the "+OK" and "." lines).
std::vector<std::string> capability_lines(const CapabilityConfig &config,
                                          const ConnectionFacts &facts, bool logged_in,
                                          const UserCapabilities &user = {});

} // namespace modpop3d::pop3
