// password_scram.cpp - SCRAM-SHA-256 verifiers; see password_scram.hpp.
#include "password/password_scram.hpp"

#include <algorithm>
#include <charconv>

namespace modpop3d::password
{

ScramVerifier scram_compute(std::string_view password, std::string_view salt, uint32_t iterations)
{
    ScramVerifier v;
    v.iterations = iterations;
    v.salt = std::string(salt);
    const digest::Sha256 salted = digest::pbkdf2_sha256(password, salt, iterations);
    const digest::Sha256 client_key = digest::hmac_sha256(digest::as_text(salted), "Client Key");
    v.stored_key = digest::sha256(digest::as_text(client_key));
    v.server_key = digest::hmac_sha256(digest::as_text(salted), "Server Key");
    return v;
}

std::optional<ScramVerifier> parse_scram_verifier(std::string_view value)
{
    std::string_view field[4];
    for (int i = 0; i < 3; ++i) {
        auto colon = value.find(':');
        if (colon == std::string_view::npos)
            return std::nullopt;
        field[i] = value.substr(0, colon);
        value.remove_prefix(colon + 1);
    }
    field[3] = value;
    if (field[3].find(':') != std::string_view::npos)
        return std::nullopt;

    ScramVerifier v;
    const char *end = field[0].data() + field[0].size();
    auto [ptr, ec] = std::from_chars(field[0].data(), end, v.iterations);
    if (field[0].empty() || ec != std::errc() || ptr != end ||
        v.iterations < scram_min_iterations || v.iterations > scram_max_iterations)
        return std::nullopt;

    auto salt = digest::base64_decode(field[1]);
    auto stored = digest::base64_decode(field[2]);
    auto server = digest::base64_decode(field[3]);
    if (!salt || salt->empty() || !stored || stored->size() != v.stored_key.size() || !server ||
        server->size() != v.server_key.size())
        return std::nullopt;
    v.salt.assign(salt->begin(), salt->end());
    std::copy(stored->begin(), stored->end(), v.stored_key.begin());
    std::copy(server->begin(), server->end(), v.server_key.begin());
    return v;
}

std::string format_scram_verifier(const ScramVerifier &v)
{
    return "{SCRAM-SHA-256}" + std::to_string(v.iterations) + ":" + digest::base64_encode(v.salt) +
           ":" + digest::base64_encode(digest::as_text(v.stored_key)) + ":" +
           digest::base64_encode(digest::as_text(v.server_key));
}

} // namespace modpop3d::password
