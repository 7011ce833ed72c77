// outcome.cpp - modapi status codes to engine outcomes and response codes.
#include "pop3/outcome.hpp"

#include <modpop3d/status.h>

namespace modpop3d::pop3
{

Outcome outcome_from_status(int32_t status, StatusContext context) noexcept
{
    if (status >= 0)
        return Outcome::ok;
    switch (status) {
    case MODPOP3D_E_NOUSER:
    case MODPOP3D_E_BADPASS:
        return Outcome::auth_failed;
    case MODPOP3D_E_PERM:
    case MODPOP3D_E_NOTSUP:
        return context == StatusContext::login ? Outcome::auth_failed : Outcome::perm_failure;
    case MODPOP3D_E_TEMP:
    case MODPOP3D_E_NOMEM:
    case MODPOP3D_E_IO:
    case MODPOP3D_E_NOSPACE:
        return Outcome::temp_failure;
    case MODPOP3D_E_LOCKED:
        return Outcome::in_use;
    case MODPOP3D_E_GONE:
        return context == StatusContext::message ? Outcome::gone : Outcome::perm_failure;
    default: // NOENT, INTERNAL, INVAL, CONFIG, CORRUPT and unknown codes
        return Outcome::perm_failure;
    }
}

std::string_view response_code(Outcome outcome) noexcept
{
    switch (outcome) {
    case Outcome::auth_failed:
        return "AUTH";
    case Outcome::temp_failure:
        return "SYS/TEMP";
    case Outcome::perm_failure:
        return "SYS/PERM";
    case Outcome::in_use:
        return "IN-USE";
    case Outcome::login_delay:
        return "LOGIN-DELAY";
    case Outcome::ok:
    case Outcome::gone:
        break;
    }
    return "";
}

} // namespace modpop3d::pop3
