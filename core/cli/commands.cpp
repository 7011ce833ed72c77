// commands.cpp - -t, -n and -M (see commands.hpp).
#include "cli/commands.hpp"

#include "config/core_config.hpp"
#include "modload/loader.hpp"
#include "modload/module_set.hpp"
#include "tls/tls_setup.hpp"

#include <modpop3d/module.h>
#include <unistd.h>

namespace modpop3d::cli
{

namespace
{

void print_diags(const config::Diagnostics &diags, std::ostream &err)
{
    for (const auto &line : diags.lines())
        err << "modpop3d: " << line << '\n';
}

void print_keys(std::ostream &out, const config::Schema &schema, const config::Effective &eff)
{
    for (const auto &k : schema) {
        const std::string *v = eff.get(k.key);
        if (v == nullptr) {
            out << "# " << k.key << ": (unset)\n";
            continue;
        }
        if (k.flags & MODPOP3D_CONFF_SECRET)
            out << k.key << ": <hidden>\n";
        else if (k.key == "listen" && eff.section != nullptr)
            continue; // printed one line per listener below
        else
            out << k.key << ": " << *v << '\n';
    }
}

void print_schema(std::ostream &out, const config::Schema &schema)
{
    for (const auto &k : schema) {
        out << "    " << k.key << " (" << config::type_name(k.type);
        if (!k.choices.empty())
            out << ": " << k.choices;
        if (k.min < k.max)
            out << ", " << k.min << ".." << k.max;
        out << ")";
        if (k.default_value)
            out << " default '" << *k.default_value << "'";
        if (k.flags & MODPOP3D_CONFF_REQUIRED)
            out << " required";
        if (k.flags & MODPOP3D_CONFF_SECRET)
            out << " secret";
        out << "\n        " << k.help << '\n';
    }
}

} // namespace

int check_configuration(const std::string &path, std::ostream &out, std::ostream &err)
{
    config::Diagnostics diags;
    config::Configuration conf;
    bool ok = config::load_configuration(path, conf, diags);
    modload::Loader loader(conf.core.module_dir.empty() ? config::default_module_dir()
                                                        : conf.core.module_dir);
    modload::ModuleSet modules;
    ok = modules.configure(conf.text, loader, diags) && ok;
    if (!ok || !diags.empty()) {
        print_diags(diags, err);
        err << "modpop3d: " << path << ": configuration has " << diags.size()
            << (diags.size() == 1 ? " error\n" : " errors\n");
        return 1;
    }
    // Certificates and keys are loaded as the daemon would load them: a TLS
    // listener that could not start is a broken configuration.
    std::string why;
    std::vector<std::string> warnings;
    bool tls_ok = daemon::check_tls(conf.core, why, warnings);
    for (const auto &w : warnings)
        err << "modpop3d: warning: " << w << '\n';
    if (!tls_ok) {
        err << "modpop3d: " << path << ": " << why << '\n';
        return 1;
    }
    out << "modpop3d: " << path << ": configuration is valid (" << modules.all().size()
        << " module instance" << (modules.all().size() == 1 ? "" : "s") << ")\n";
    return 0;
}

int print_effective(const std::string &path, std::ostream &out, std::ostream &err)
{
    config::Diagnostics diags;
    config::Configuration conf;
    bool ok = config::load_configuration(path, conf, diags);
    modload::Loader loader(conf.core.module_dir);
    modload::ModuleSet modules;
    ok = modules.configure(conf.text, loader, diags) && ok;
    if (!ok) {
        print_diags(diags, err);
        return 1;
    }
    out << "# effective configuration of " << path << '\n';
    for (const auto &l : conf.core.listen)
        out << "listen: " << l << '\n';
    print_keys(out, config::core_schema(), conf.global);
    for (const auto &inst : modules.all()) {
        out << "\n[" << inst->label() << "]\n";
        config::Schema schema = inst->module->schema;
        for (const auto &k : modload::module_section_core_keys())
            schema.push_back(k);
        print_keys(out, schema, inst->conf->effective);
    }
    return 0;
}

int list_modules(const std::string &path, std::ostream &out, std::ostream &err)
{
    std::string dir = config::default_module_dir();
    if (access(path.c_str(), R_OK) == 0) {
        config::Diagnostics diags;
        config::Configuration conf;
        config::load_configuration(path, conf, diags);
        if (!conf.core.module_dir.empty())
            dir = conf.core.module_dir;
    }
    modload::Loader loader(dir);
    out << "modpop3d ABI " << MODPOP3D_ABI_MAJOR << "." << MODPOP3D_ABI_MINOR
        << ", module directory " << dir << "\n\ncore (global section)\n";
    print_schema(out, config::core_schema());
    int status = 0;
    for (const auto &name : loader.available()) {
        std::string error;
        const modload::ModuleInfo *m = loader.load(name, error);
        if (m == nullptr) {
            err << "modpop3d: " << error << '\n';
            status = 1;
            continue;
        }
        const modpop3d_module *d = m->desc;
        out << '\n'
            << d->name << " (" << modload::kind_name(d->kind) << ", version "
            << (d->version ? d->version : "?") << ", ABI " << d->abi_major << "." << d->abi_minor
            << ", package " << modload::package_for(name) << ")\n    "
            << (d->description ? d->description : "") << '\n';
        print_schema(out, m->schema);
    }
    return status;
}

} // namespace modpop3d::cli
