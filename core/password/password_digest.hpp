// password_digest.hpp - the cryptographic primitives password schemes need:
// one-shot MD5/SHA-1/SHA-256, HMAC-SHA-256 and PBKDF2-HMAC-SHA-256 (OpenSSL 3),
// constant-time comparison, strict hex and base64 codecs, and the kernel
// CSPRNG (getrandom). Nothing here knows about schemes or stored strings.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modpop3d::password::digest
{

using Bytes = std::vector<unsigned char>;
using Md5 = std::array<unsigned char, 16>;
using Sha1 = std::array<unsigned char, 20>;
using Sha256 = std::array<unsigned char, 32>;

// View any contiguous bytes as text for the functions below.
inline std::string_view as_text(const unsigned char *p, std::size_t n) noexcept
{
    return {reinterpret_cast<const char *>(p), n};
}
template <std::size_t N> std::string_view as_text(const std::array<unsigned char, N> &a) noexcept
{
    return as_text(a.data(), a.size());
}
inline std::string_view as_text(const Bytes &b) noexcept
{
    return as_text(b.data(), b.size());
}

// Digests. Throw std::runtime_error only if OpenSSL itself fails.
Md5 md5(std::string_view data);
Sha1 sha1(std::string_view data);
Sha256 sha256(std::string_view data);
Sha256 hmac_sha256(std::string_view key, std::string_view data);
Sha256 pbkdf2_sha256(std::string_view password, std::string_view salt, uint32_t iterations);

// equal - constant-time for equal lengths (CRYPTO_memcmp); different lengths
// are unequal (lengths are not secret where this is used).
bool equal(std::string_view a, std::string_view b) noexcept;

// Strict codecs: decoders return nullopt on any invalid character, wrong
// padding or stray white space, so a malformed stored secret is never
// half-read. hex_decode accepts both cases.
std::string hex_encode(std::string_view data, bool upper = false);
std::optional<Bytes> hex_decode(std::string_view text);
std::string base64_encode(std::string_view data);
std::optional<Bytes> base64_decode(std::string_view text);

// random_bytes - fill from getrandom(2); throws std::system_error on failure.
void random_bytes(void *buf, std::size_t len);

} // namespace modpop3d::password::digest
