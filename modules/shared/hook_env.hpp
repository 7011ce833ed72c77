// hook_env.hpp - the environment a hook module gives a program it runs
// (hook_exec, hook_popbsmtp's program mode): the session's facts as
// MODPOP3D_* variables, a fixed PATH, nothing inherited from the daemon.
// The password is not a session fact and so never reaches a program.
//
// Header-only and compiled into each module that uses it.
#pragma once

#include <cstdint>
#include <ctime>
#include <modpop3d/module.h>
#include <string>
#include <vector>

namespace modpop3d::hook_env
{

// event_name - "AUTH_OK", "AUTH_FAIL", "LOGIN", "LOGOUT", or "UNKNOWN".
inline const char *event_name(uint32_t event) noexcept
{
    switch (event) {
    case MODPOP3D_EV_AUTH_OK:
        return "AUTH_OK";
    case MODPOP3D_EV_AUTH_FAIL:
        return "AUTH_FAIL";
    case MODPOP3D_EV_LOGIN:
        return "LOGIN";
    case MODPOP3D_EV_LOGOUT:
        return "LOGOUT";
    default:
        return "UNKNOWN";
    }
}

// session_env - "NAME=value" items for the facts of `session` at `info`'s
// event. A fact the core does not know is left out (not set empty).
inline std::vector<std::string> session_env(const modpop3d_host *host,
                                            const modpop3d_session *session,
                                            const modpop3d_event_info *info)
{
    std::vector<std::string> env{"PATH=/usr/local/bin:/usr/bin:/bin"};
    static const struct {
        const char *fact, *var;
    } facts[] = {
        {"user", "MODPOP3D_USER"},
        {"local_part", "MODPOP3D_LOCAL_PART"},
        {"domain", "MODPOP3D_DOMAIN"},
        {"client_ip", "MODPOP3D_CLIENT_IP"},
        {"client_port", "MODPOP3D_CLIENT_PORT"},
        {"local_ip", "MODPOP3D_LOCAL_IP"},
        {"local_port", "MODPOP3D_LOCAL_PORT"},
        {"tls", "MODPOP3D_TLS"},
        {"method", "MODPOP3D_METHOD"},
        {"session_id", "MODPOP3D_SESSION_ID"},
    };
    for (const auto &f : facts) {
        const char *v = host->session_get(session, f.fact);
        if (v != nullptr)
            env.push_back(std::string(f.var) + "=" + v);
    }
    env.push_back(std::string("MODPOP3D_EVENT=") + event_name(info ? info->event : 0));
    env.push_back("MODPOP3D_TIME=" + std::to_string(static_cast<long long>(time(nullptr))));
    if (info != nullptr &&
        (info->event == MODPOP3D_EV_LOGIN || info->event == MODPOP3D_EV_LOGOUT)) {
        env.push_back("MODPOP3D_MESSAGES=" + std::to_string(info->messages));
        env.push_back("MODPOP3D_OCTETS=" + std::to_string(info->octets));
        if (info->mailbox_path != nullptr)
            env.push_back(std::string("MODPOP3D_MAILBOX=") + info->mailbox_path);
    }
    if (info != nullptr && info->event == MODPOP3D_EV_LOGOUT) {
        env.push_back("MODPOP3D_RETRIEVED=" + std::to_string(info->retrieved));
        env.push_back("MODPOP3D_DELETED=" + std::to_string(info->deleted));
        env.push_back("MODPOP3D_DURATION_MS=" + std::to_string(info->duration_usec / 1000));
    }
    return env;
}

} // namespace modpop3d::hook_env
