// pgsql_driver.hpp - the PostgreSQL Driver of the shared SQL auth code.
#pragma once

#include "sql_driver.hpp"

#include <memory>

namespace modpop3d::sql
{

std::unique_ptr<Driver> make_pgsql_driver();

} // namespace modpop3d::sql
