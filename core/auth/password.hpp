// password.hpp - verify a plaintext password against a stored secret.
//
// Stored secrets are "{SCHEME}value" or bare crypt(3) strings. This is the
// one place that knows password schemes: the host service password_verify()
// and the modpop3d-passwd tool both use it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace modpop3d::auth
{

// password_verify - MODPOP3D_OK, MODPOP3D_E_BADPASS or MODPOP3D_E_NOTSUP.
// Constant-time in the compared secret.
int32_t password_verify(std::string_view stored, std::string_view plain) noexcept;

// password_dummy_verify - burn the time of one default-scheme verification;
// always MODPOP3D_E_BADPASS (unknown users look like wrong passwords).
int32_t password_dummy_verify(std::string_view plain) noexcept;

} // namespace modpop3d::auth
