// module_set.hpp - the module instances a configuration asks for.
//
// For each [module] or [module/instance] section: load the module, check
// the section against the module's schema plus the keys the core reads in
// every module section (priority), run the module's conf_check, and later
// create the instance (instance_new), initialise it in each process
// (process_init) and free it (instance_free, in reverse order).
#pragma once

#include "config/parser.hpp"
#include "modload/host_services.hpp"
#include "modload/loader.hpp"

#include <memory>
#include <string>
#include <vector>

namespace modpop3d::modload
{

struct Instance {
    const ModuleInfo *module = nullptr;
    std::unique_ptr<modpop3d_conf> conf;
    std::unique_ptr<modpop3d_ictx> ictx;
    void *inst = nullptr;
    int64_t priority = 100;
    bool created = false;

    uint32_t kind() const { return module->desc->kind; }
    const std::string &label() const { return ictx->label; }
};

class ModuleSet
{
  public:
    ModuleSet() = default;
    ~ModuleSet();
    ModuleSet(const ModuleSet &) = delete;
    ModuleSet &operator=(const ModuleSet &) = delete;

    // configure - load and check every module section of `text`. Returns
    // false when anything was wrong (all problems are in `diags`).
    bool configure(const config::ConfigText &text, Loader &loader, config::Diagnostics &diags);
    // add_section - the same for one section whose module is already loaded.
    bool add_section(const config::Section &section, const ModuleInfo &module,
                     config::Diagnostics &diags);

    // instantiate - instance_new for each instance (master).
    bool instantiate(config::Diagnostics &diags);
    // process_init - in a process that will use the instances; only those
    // whose kind is in `kinds` (a set of 1 << MODPOP3D_KIND_* bits; all by
    // default): the auth process initialises auth and hook instances, login
    // workers and session processes mailbox instances.
    bool process_init(config::Diagnostics &diags, uint32_t kinds = ~0u);

    const std::vector<std::unique_ptr<Instance>> &all() const { return instances_; }
    // of_kind - instances of one kind, in priority order (lower first), then
    // configuration order.
    std::vector<Instance *> of_kind(uint32_t kind) const;

  private:
    std::vector<std::unique_ptr<Instance>> instances_;
};

// The keys the core itself reads in every module section.
const config::Schema &module_section_core_keys();

} // namespace modpop3d::modload
