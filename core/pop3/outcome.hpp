// outcome.hpp - how a host action ended, and how that becomes a POP3 reply.
//
// The host answers the engine's actions (login, maildrop open, retrieve,
// commit) with an Outcome. outcome_from_status() turns a modapi status code
// into one, following the mapping documented in modpop3d/status.h, so the
// host can pass module results straight through.
#pragma once

#include <cstdint>
#include <string_view>

namespace modpop3d::pop3
{

enum class Outcome : uint8_t {
    ok,
    auth_failed,  // bad credentials, unknown user, refused account: "-ERR [AUTH]"
    temp_failure, // backend down, I/O, no memory, disk full: "-ERR [SYS/TEMP]"
    perm_failure, // permanent system problem, corrupt store, bug: "-ERR [SYS/PERM]"
    in_use,       // maildrop locked by another session: "-ERR [IN-USE]"
    login_delay,  // logged in too soon after the last login: "-ERR [LOGIN-DELAY]"
    gone,         // the message vanished (deleted by another agent): plain "-ERR"
};

// Which step a status code came from: a PERM refusal of a login is an [AUTH]
// problem, a PERM refusal of a maildrop a [SYS/PERM] one.
enum class StatusContext : uint8_t { login, maildrop, message, commit };

// outcome_from_status - map a MODPOP3D_* status code; unknown negative codes
// count as MODPOP3D_E_INTERNAL, unknown positive ones as MODPOP3D_OK.
Outcome outcome_from_status(int32_t status, StatusContext context) noexcept;

// response_code - the RFC 2449/3206 code for an outcome ("AUTH", "SYS/TEMP",
// ...), or "" for ok and gone.
std::string_view response_code(Outcome outcome) noexcept;

} // namespace modpop3d::pop3
