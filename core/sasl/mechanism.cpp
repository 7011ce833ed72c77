// mechanism.cpp - the mechanism factory and the default nonce; see
// mechanism.hpp.
#include "sasl/mechanism.hpp"

#include "password/password_digest.hpp"
#include "sasl/cram_md5.hpp"
#include "sasl/scram.hpp"

namespace modpop3d::sasl
{

std::unique_ptr<Mechanism> make_mechanism(std::string_view name, Options options)
{
    if (name == cram_md5)
        return make_cram_md5(std::move(options));
    if (name == scram_sha256)
        return make_scram_sha256(std::move(options), false);
    if (name == scram_sha256_plus)
        return make_scram_sha256(std::move(options), true);
    return nullptr;
}

std::vector<std::string> credential_schemes(std::string_view name)
{
    if (name == cram_md5)
        return {"PLAIN"};
    if (name == scram_sha256 || name == scram_sha256_plus)
        return {"SCRAM-SHA-256", "PLAIN"};
    return {};
}

std::string default_nonce()
{
    unsigned char raw[24];
    password::digest::random_bytes(raw, sizeof raw);
    return password::digest::base64_encode(password::digest::as_text(raw, sizeof raw));
}

} // namespace modpop3d::sasl
