// password_scram.hpp - SCRAM-SHA-256 stored verifiers (RFC 5802, RFC 7677):
// computing them from a password, and reading and writing their stored form
//   {SCRAM-SHA-256}<iterations>:<salt b64>:<StoredKey b64>:<ServerKey b64>
// The SASL exchange itself belongs to the core's SASL code; it can use
// parse_scram_verifier() to get at the keys.
//
// The password is used as given (UTF-8 bytes). SASLprep is not applied: it
// is the identity for printable ASCII, and the SASL side must do the same.
#pragma once

#include "password/password_digest.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace modpop3d::password
{

struct ScramVerifier {
    uint32_t iterations = 0;
    std::string salt; // raw bytes
    digest::Sha256 stored_key{};
    digest::Sha256 server_key{};
};

// Iteration counts accepted from stored verifiers: RFC 7677 asks for at least
// 4096; the upper bound keeps one bad line from stalling an auth thread.
inline constexpr uint32_t scram_min_iterations = 4096;
inline constexpr uint32_t scram_max_iterations = 10'000'000;
inline constexpr uint32_t scram_default_iterations = 4096;

// scram_compute - SaltedPassword = PBKDF2(password, salt, i); ClientKey =
// HMAC(SaltedPassword, "Client Key"); StoredKey = H(ClientKey); ServerKey =
// HMAC(SaltedPassword, "Server Key").
ScramVerifier scram_compute(std::string_view password, std::string_view salt, uint32_t iterations);

// parse_scram_verifier - the part after "{SCRAM-SHA-256}"; nullopt when it
// is malformed (field count, base64, key length, iteration bounds, empty salt).
std::optional<ScramVerifier> parse_scram_verifier(std::string_view value);

// format_scram_verifier - the full stored string, with the scheme prefix.
std::string format_scram_verifier(const ScramVerifier &v);

} // namespace modpop3d::password
