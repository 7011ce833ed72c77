// sql_module.hpp - the C entry points of an SQL auth module, the same for
// auth_mysql and auth_pgsql: each module instantiates Glue with its dialect
// and its driver factory and puts Glue's functions in its descriptor.
// Exceptions never cross the ABI (modpop3d::guard).
#pragma once

#include "sql_auth.hpp"

#include <modpop3d/module.h>
#include <modpop3d/module.hpp>

namespace modpop3d::sql
{

template <Dialect D, std::unique_ptr<Driver> (*MakeDriver)()> struct Glue {
    static int32_t conf_check(const modpop3d_host *host, const modpop3d_conf *conf) noexcept
    {
        return modpop3d::guard(host, nullptr, [&] {
            Config c;
            return read_config(host, conf, D, c) ? MODPOP3D_OK : MODPOP3D_E_CONFIG;
        });
    }

    static int32_t instance_new(const modpop3d_host *host, const modpop3d_conf *conf,
                                modpop3d_ictx *ictx, void **ret_inst) noexcept
    {
        return modpop3d::guard(host, ictx, [&] {
            Config c;
            if (!read_config(host, conf, D, c))
                return MODPOP3D_E_CONFIG;
            // No connection here (master process): the pool connects on
            // first use, in the auth process.
            *ret_inst = new Instance(host, ictx, std::move(c), MakeDriver());
            return MODPOP3D_OK;
        });
    }

    static void instance_free(void *inst) noexcept
    {
        auto *i = static_cast<Instance *>(inst);
        if (i != nullptr)
            modpop3d::guard_void(i->host(), i->ictx(), [&] { delete i; });
    }

    static int32_t verify_plain(void *inst, modpop3d_session *s, const char *user, const char *pass,
                                size_t len, modpop3d_auth_result *res) noexcept
    {
        auto *i = static_cast<Instance *>(inst);
        return modpop3d::guard(i->host(), i->ictx(),
                               [&] { return i->verify(s, user, pass, len, res); });
    }

    static int32_t lookup_credentials(void *inst, modpop3d_session *s, const char *user,
                                      const char *scheme, modpop3d_auth_result *res) noexcept
    {
        auto *i = static_cast<Instance *>(inst);
        return modpop3d::guard(i->host(), i->ictx(),
                               [&] { return i->lookup(s, user, scheme, res); });
    }

    static int32_t on_login(void *inst, modpop3d_session *s) noexcept
    {
        auto *i = static_cast<Instance *>(inst);
        return modpop3d::guard(i->host(), i->ictx(), [&] { return i->on_login(s); });
    }

    static constexpr modpop3d_auth_ops ops = {
        sizeof(modpop3d_auth_ops),
        MODPOP3D_AUTHC_PLAIN | MODPOP3D_AUTHC_CREDENTIALS,
        verify_plain,
        lookup_credentials,
        nullptr, // sasl_mechanisms
        nullptr, // sasl_step
        nullptr, // sasl_free
        on_login,
    };
};

} // namespace modpop3d::sql
