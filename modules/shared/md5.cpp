// md5.cpp - MD5 over libcrypto's EVP interface (see md5.hpp).
#include "md5.hpp"

#include <new>
#include <openssl/evp.h>
#include <utility>

namespace modpop3d::md5
{

namespace
{

// The MD5 implementation, fetched once: an implicit fetch by EVP_md5() on
// every init would look the provider up again for each message.
const EVP_MD *algorithm()
{
    static EVP_MD *const md = EVP_MD_fetch(nullptr, "MD5", nullptr);
    return md != nullptr ? md : EVP_md5();
}

void start(EVP_MD_CTX *ctx)
{
    if (EVP_DigestInit_ex(ctx, algorithm(), nullptr) != 1)
        throw std::bad_alloc();
}

} // namespace

Hasher::Hasher() : ctx_(EVP_MD_CTX_new())
{
    if (ctx_ == nullptr)
        throw std::bad_alloc();
    start(ctx_);
}

Hasher::~Hasher()
{
    EVP_MD_CTX_free(ctx_);
}

Hasher::Hasher(Hasher &&other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Hasher &Hasher::operator=(Hasher &&other) noexcept
{
    std::swap(ctx_, other.ctx_);
    return *this;
}

void Hasher::update(const void *data, std::size_t len)
{
    EVP_DigestUpdate(ctx_, data, len);
}

Digest Hasher::finish()
{
    Digest d{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, d.data(), &len);
    start(ctx_);
    return d;
}

Digest digest(const void *data, std::size_t len)
{
    Digest d{};
    unsigned int out = 0;
    if (EVP_Digest(data, len, d.data(), &out, algorithm(), nullptr) != 1)
        throw std::bad_alloc();
    return d;
}

std::string hex(const Digest &d)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(32, '0');
    for (std::size_t i = 0; i < d.size(); ++i) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    return out;
}

} // namespace modpop3d::md5
