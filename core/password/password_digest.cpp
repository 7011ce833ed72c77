// password_digest.cpp - OpenSSL-backed digests, codecs and getrandom; see
// password_digest.hpp.
#include "password/password_digest.hpp"

#include "util/base64.hpp"

#include <cerrno>
#include <climits>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdexcept>
#include <sys/random.h>
#include <system_error>

namespace modpop3d::password::digest
{

namespace
{

template <std::size_t N> std::array<unsigned char, N> one_shot(const EVP_MD *md, std::string_view d)
{
    std::array<unsigned char, N> out{};
    unsigned int len = 0;
    if (md == nullptr || EVP_Digest(d.data(), d.size(), out.data(), &len, md, nullptr) != 1 ||
        len != N)
        throw std::runtime_error("OpenSSL digest failed");
    return out;
}

const unsigned char *bytes(std::string_view s) noexcept
{
    return reinterpret_cast<const unsigned char *>(s.data());
}

int hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

} // namespace

Md5 md5(std::string_view data)
{
    return one_shot<16>(EVP_md5(), data);
}
Sha1 sha1(std::string_view data)
{
    return one_shot<20>(EVP_sha1(), data);
}
Sha256 sha256(std::string_view data)
{
    return one_shot<32>(EVP_sha256(), data);
}

Sha256 hmac_sha256(std::string_view key, std::string_view data)
{
    Sha256 out{};
    unsigned int len = 0;
    if (key.size() > INT_MAX ||
        HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes(data), data.size(),
             out.data(), &len) == nullptr ||
        len != out.size())
        throw std::runtime_error("OpenSSL HMAC failed");
    return out;
}

Sha256 pbkdf2_sha256(std::string_view password, std::string_view salt, uint32_t iterations)
{
    Sha256 out{};
    if (password.size() > INT_MAX || salt.size() > INT_MAX || iterations == 0 ||
        iterations > INT_MAX ||
        PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), bytes(salt),
                          static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                          static_cast<int>(out.size()), out.data()) != 1)
        throw std::runtime_error("OpenSSL PBKDF2 failed");
    return out;
}

bool equal(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string hex_encode(std::string_view data, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (unsigned char c : data) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0xf]);
    }
    return out;
}

std::optional<Bytes> hex_decode(std::string_view text)
{
    if (text.size() % 2 != 0)
        return std::nullopt;
    Bytes out;
    out.reserve(text.size() / 2);
    for (std::size_t i = 0; i < text.size(); i += 2) {
        int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out.push_back(static_cast<unsigned char>(hi << 4 | lo));
    }
    return out;
}

// One strict base64 (util/base64) for the whole core.
std::string base64_encode(std::string_view data)
{
    return base64::encode(data);
}

std::optional<Bytes> base64_decode(std::string_view text)
{
    auto decoded = base64::decode(text);
    if (!decoded)
        return std::nullopt;
    return Bytes(decoded->begin(), decoded->end());
}

void random_bytes(void *buf, std::size_t len)
{
    auto *p = static_cast<unsigned char *>(buf);
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        p += n;
        len -= static_cast<std::size_t>(n);
    }
}

} // namespace modpop3d::password::digest
