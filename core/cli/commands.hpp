// commands.hpp - the administrative commands of the modpop3d binary:
// -t (check), -n (effective configuration), -M (modules). Each writes to the
// given streams and returns the process exit status.
#pragma once

#include <ostream>
#include <string>

namespace modpop3d::cli
{

// check_configuration - parse, check the core keys, load every module a
// section names, check each section against its schema and run conf_check.
// Exit 0 when all is well, 1 otherwise; every problem is one FILE:LINE line.
int check_configuration(const std::string &path, std::ostream &out, std::ostream &err);

// print_effective - the configuration with defaults filled in and secrets
// hidden, in the file's own syntax.
int print_effective(const std::string &path, std::ostream &out, std::ostream &err);

// list_modules - every module in the module directory (from the
// configuration's module-dir when it can be read) with kind, ABI and schema.
int list_modules(const std::string &path, std::ostream &out, std::ostream &err);

} // namespace modpop3d::cli
