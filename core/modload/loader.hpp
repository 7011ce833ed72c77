// loader.hpp - find, open and vet module shared objects with libltdl.
//
// A module is opened only when a configuration section names it. Before its
// descriptor is trusted the loader checks, in order: the file exists in the
// module directory (else: which package to install), ownership and
// permissions when running as root (root-owned, not group/world-writable,
// as Postfix does), the entry symbol, the frozen header (struct_size,
// abi_major, abi_minor), the name against the file stem, kind and flags, and
// the size of the ops table. Every refusal names the file and the fix.
#pragma once

#include "config/schema.hpp"

#include <ltdl.h>
#include <memory>
#include <modpop3d/module.h>
#include <string>
#include <vector>

namespace modpop3d::modload
{

struct ModuleInfo {
    std::string name;
    std::string path;
    lt_dlhandle handle = nullptr;
    const modpop3d_module *desc = nullptr;
    config::Schema schema; // the module's own keys, read from its descriptor
};

class Loader
{
  public:
    explicit Loader(std::string module_dir);
    ~Loader();
    Loader(const Loader &) = delete;
    Loader &operator=(const Loader &) = delete;

    // load - open `name` from the module directory (once; later calls return
    // the same module). nullptr with `error` set on refusal.
    const ModuleInfo *load(const std::string &name, std::string &error);
    // load_path - open a module file given by path (tests, -M FILE).
    const ModuleInfo *load_path(const std::string &path, std::string &error);

    const std::string &dir() const { return dir_; }

    // available - the stems of the *.so files in the module directory.
    std::vector<std::string> available() const;

  private:
    const ModuleInfo *open(const std::string &name, const std::string &path, std::string &error);

    std::string dir_;
    std::vector<std::unique_ptr<ModuleInfo>> modules_; // in load order
};

// package_for - the distro package that ships a module: auth_pam ->
// modpop3d-auth-pam.
std::string package_for(const std::string &module_name);

// kind_name - "auth", "mailbox", "hook" or "unknown".
const char *kind_name(uint32_t kind);

} // namespace modpop3d::modload
