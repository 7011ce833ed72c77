// module_set.cpp - configuring and instantiating modules (see module_set.hpp).
//
// DIAGNOSTICS: missing or refused modules at their section's line, schema
// errors, and conf_check/instance_new/process_init failures.
#include "modload/module_set.hpp"

#include "util/log.hpp"
#include "util/words.hpp"

#include <algorithm>

namespace modpop3d::modload
{

namespace
{

std::string status_text(int32_t rc)
{
    switch (rc) {
    case MODPOP3D_E_TEMP:
        return "temporary failure";
    case MODPOP3D_E_NOMEM:
        return "out of memory";
    case MODPOP3D_E_CONFIG:
        return "configuration error";
    case MODPOP3D_E_INVAL:
        return "invalid argument";
    case MODPOP3D_E_IO:
        return "I/O error";
    default:
        return "error " + std::to_string(rc);
    }
}

} // namespace

const config::Schema &module_section_core_keys()
{
    static const config::Schema keys = [] {
        config::KeySpec priority;
        priority.key = "priority";
        priority.type = MODPOP3D_CONF_INT;
        priority.default_value = "100";
        priority.help = "order among instances of the same kind: lower runs first";
        priority.min = 0;
        priority.max = 10000;
        return config::Schema{priority};
    }();
    return keys;
}

ModuleSet::~ModuleSet()
{
    for (auto it = instances_.rbegin(); it != instances_.rend(); ++it) {
        Instance &i = **it;
        if (i.created && i.inst != nullptr)
            i.module->desc->instance_free(i.inst);
    }
}

bool ModuleSet::configure(const config::ConfigText &text, Loader &loader,
                          config::Diagnostics &diags)
{
    bool ok = true;
    for (const auto &section : text.sections) {
        if (section.module.empty())
            continue;
        std::string error;
        const ModuleInfo *m = loader.load(section.module, error);
        if (m == nullptr) {
            diags.error(section.where, error);
            ok = false;
            continue;
        }
        ok = add_section(section, *m, diags) && ok;
    }
    return ok;
}

bool ModuleSet::add_section(const config::Section &section, const ModuleInfo &module,
                            config::Diagnostics &diags)
{
    config::Schema schema = module.schema;
    for (const auto &k : module_section_core_keys())
        if (config::find_key(schema, k.key) == nullptr)
            schema.push_back(k);

    std::size_t before = diags.size();
    auto inst = std::make_unique<Instance>();
    inst->module = &module;
    inst->conf = std::make_unique<modpop3d_conf>();
    inst->conf->module = section.module;
    inst->conf->instance = section.instance;
    inst->conf->effective = config::check_section(section, schema, diags);
    inst->conf->diags = &diags;
    for (const auto &k : schema)
        if (k.type == MODPOP3D_CONF_LIST)
            if (auto *v = inst->conf->effective.get(k.key))
                inst->conf->lists[k.key] = util::split_words(*v);
    inst->ictx = std::make_unique<modpop3d_ictx>();
    inst->ictx->label = inst->conf->label();
    inst->priority = inst->conf->effective.numbers["priority"];
    inst->conf->diags = nullptr;
    if (diags.size() != before)
        return false; // the module's own check would only repeat schema errors

    if (module.desc->conf_check != nullptr) {
        inst->conf->diags = &diags;
        int32_t rc = module.desc->conf_check(host_table(), inst->conf.get());
        inst->conf->diags = nullptr; // later conf_error calls go to the log
        if (rc != MODPOP3D_OK) {
            if (inst->conf->errors == 0)
                diags.error(section.where, "[" + inst->conf->label() +
                                               "]: the module rejected this section (" +
                                               status_text(rc) + ")");
            return false;
        }
    }
    instances_.push_back(std::move(inst));
    return true;
}

bool ModuleSet::instantiate(config::Diagnostics &diags)
{
    bool ok = true;
    for (auto &i : instances_) {
        if (i->created)
            continue;
        i->conf->diags = &diags;
        int32_t rc =
            i->module->desc->instance_new(host_table(), i->conf.get(), i->ictx.get(), &i->inst);
        i->conf->diags = nullptr;
        if (rc != MODPOP3D_OK) {
            if (i->conf->errors == 0)
                diags.error(i->conf->effective.section ? i->conf->effective.section->where
                                                       : config::Location{},
                            "[" + i->label() + "]: instance_new failed (" + status_text(rc) + ")");
            ok = false;
            continue;
        }
        i->created = true;
    }
    return ok;
}

bool ModuleSet::process_init(config::Diagnostics &diags, uint32_t kinds)
{
    bool ok = true;
    for (auto &i : instances_) {
        if (!i->created || i->module->desc->process_init == nullptr || !(kinds & (1u << i->kind())))
            continue;
        int32_t rc = i->module->desc->process_init(i->inst);
        if (rc != MODPOP3D_OK) {
            diags.plain("[" + i->label() + "]: process_init failed (" + status_text(rc) + ")");
            ok = false;
        }
    }
    return ok;
}

std::vector<Instance *> ModuleSet::of_kind(uint32_t kind) const
{
    std::vector<Instance *> out;
    for (const auto &i : instances_)
        if (i->kind() == kind)
            out.push_back(i.get());
    std::stable_sort(out.begin(), out.end(), [](const Instance *a, const Instance *b) {
        return a->priority < b->priority;
    });
    return out;
}

} // namespace modpop3d::modload
