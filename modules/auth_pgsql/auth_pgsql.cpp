// auth_pgsql.cpp - the auth_pgsql module: users from a PostgreSQL
// database through a tpop3d-compatible password query, always run as a
// prepared statement with bound parameters. Everything but the driver is
// the shared SQL auth code (modules/shared/sql).
#include "pgsql_driver.hpp"
#include "sql_module.hpp"

namespace
{

using Glue = modpop3d::sql::Glue<modpop3d::sql::Dialect::pgsql, modpop3d::sql::make_pgsql_driver>;

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_AUTH,
    MODPOP3D_MODF_BLOCKING | MODPOP3D_MODF_THREAD_SAFE,
    "auth_pgsql",
    "0.1.0",
    "users from PostgreSQL (tpop3d auth-pgsql compatible, bound parameters, failover)",
    modpop3d::sql::conf_schema(modpop3d::sql::Dialect::pgsql),
    sizeof(modpop3d_conf_item),
    0,
    Glue::conf_check,
    Glue::instance_new,
    nullptr, // process_init: the pool connects on first use
    Glue::instance_free,
    &Glue::ops,
};

} // namespace

// The C++ form of MODPOP3D_MODULE_DEFINE has no prior declaration, which
// -Wmissing-declarations (project warning, -Werror) rejects; declare it here.
extern "C" MODPOP3D_EXPORT const struct modpop3d_module *modpop3d_module_entry(void) noexcept;
MODPOP3D_MODULE_DEFINE(descriptor)
