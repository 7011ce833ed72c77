// conf_util.hpp - small typed readers over the host's configuration service,
// shared by the auth modules of this tree. Header-only, compiled into each
// module.
#pragma once

#include <cstdint>
#include <modpop3d/module.h>
#include <string>

namespace modpop3d::confutil
{

// str - the value of a STRING/PATH/TEMPLATE/ENUM key; `fallback` when the key
// is unset and has no default.
inline std::string str(const modpop3d_host *host, const modpop3d_conf *conf, const char *key,
                       const std::string &fallback = {})
{
    const char *v = nullptr;
    if (host->conf_str(conf, key, &v) == MODPOP3D_OK && v != nullptr)
        return v;
    return fallback;
}

// integer - an INT/SIZE/DURATION key (durations in milliseconds).
inline int64_t integer(const modpop3d_host *host, const modpop3d_conf *conf, const char *key,
                       int64_t fallback)
{
    int64_t v = 0;
    if (host->conf_int(conf, key, &v) == MODPOP3D_OK)
        return v;
    return fallback;
}

// boolean - a BOOL key.
inline bool boolean(const modpop3d_host *host, const modpop3d_conf *conf, const char *key,
                    bool fallback)
{
    int32_t v = 0;
    if (host->conf_bool(conf, key, &v) == MODPOP3D_OK)
        return v != 0;
    return fallback;
}

} // namespace modpop3d::confutil
