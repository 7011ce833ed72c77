// password.cpp - password schemes: crypt(3) strings through libxcrypt's
// crypt_r, and {PLAIN}. (Further schemes: see the auth issue.)
#include "auth/password.hpp"

#include <crypt.h>
#include <cstring>
#include <memory>
#include <modpop3d/status.h>

namespace modpop3d::auth
{

namespace
{

// equal_const_time - compare without an early exit on the first difference.
bool equal_const_time(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

int32_t verify_crypt(std::string_view hash, std::string_view plain) noexcept
{
    if (plain.find('\0') != std::string_view::npos)
        return MODPOP3D_E_BADPASS;
    auto data = std::make_unique<crypt_data>();
    std::string h(hash), p(plain);
    const char *out = crypt_r(p.c_str(), h.c_str(), data.get());
    if (out == nullptr || out[0] == '*')
        return MODPOP3D_E_NOTSUP;
    return equal_const_time(out, hash) ? MODPOP3D_OK : MODPOP3D_E_BADPASS;
}

} // namespace

int32_t password_verify(std::string_view stored, std::string_view plain) noexcept
{
    try {
        if (!stored.empty() && stored.front() == '{') {
            auto close = stored.find('}');
            if (close == std::string_view::npos)
                return MODPOP3D_E_NOTSUP;
            std::string_view scheme = stored.substr(1, close - 1);
            std::string_view value = stored.substr(close + 1);
            if (scheme == "PLAIN")
                return equal_const_time(value, plain) ? MODPOP3D_OK : MODPOP3D_E_BADPASS;
            if (scheme == "CRYPT")
                return verify_crypt(value, plain);
            return MODPOP3D_E_NOTSUP;
        }
        return verify_crypt(stored, plain);
    } catch (...) {
        return MODPOP3D_E_INTERNAL;
    }
}

int32_t password_dummy_verify(std::string_view plain) noexcept
{
    // A fixed sha512-crypt hash of a random string: verifying against it costs
    // what a real sha512-crypt user costs.
    static const char dummy[] = "$6$rounds=5000$modpop3ddummysal$"
                                "Q2cU7m0kJc8o3kq1Zs3l0f5Yw9zFv1mS0pB1vQ9b5M0nQ5dZ6o4sT8gYt2a1wK7x"
                                "Hc3eJ1rL0uV9bN2mP4qS6.";
    (void)verify_crypt(dummy, plain);
    return MODPOP3D_E_BADPASS;
}

} // namespace modpop3d::auth
