// loader.cpp - the module loader behind loader.hpp.
//
// libltdl opens modules lazily (RTLD_LAZY), which is why modules are linked
// with -Wl,-z,now: a missing symbol then fails here, at load, not in the
// middle of a session. Modules are opened RTLD_LOCAL so that two modules
// embedding different libraries cannot interpose on each other.
#include "modload/loader.hpp"

#include <algorithm>
#include <cstddef>
#include <dirent.h>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

namespace modpop3d::modload
{

namespace
{

// The size of each table as ABI 1.0 defines it: a module may be larger
// (newer minor), never smaller.
constexpr std::size_t module_v1_size = offsetof(modpop3d_module, ops) + sizeof(void *);
constexpr std::size_t conf_item_v1_size = sizeof(modpop3d_conf_item);
constexpr std::size_t auth_ops_v1_size = sizeof(modpop3d_auth_ops);
constexpr std::size_t mailbox_ops_v1_size = sizeof(modpop3d_mailbox_ops);
constexpr std::size_t hook_ops_v1_size = sizeof(modpop3d_hook_ops);

void ltdl_acquire()
{
    static std::once_flag once;
    std::call_once(once, [] { lt_dlinit(); });
}

std::string abi_string(unsigned major, unsigned minor)
{
    return std::to_string(major) + "." + std::to_string(minor);
}

// unsafe_owner - why a file or directory must not be trusted by a root
// process, or "" when it is fine.
std::string unsafe_owner(const std::string &path)
{
    struct stat st;
    if (stat(path.c_str(), &st) != 0)
        return "";
    if (st.st_uid != 0)
        return path + " is not owned by root";
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return path + " is writable by group or others";
    return "";
}

std::string stem_of(const std::string &path)
{
    auto slash = path.rfind('/');
    std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
    auto dot = file.rfind(".so");
    return dot == std::string::npos ? file : file.substr(0, dot);
}

} // namespace

std::string package_for(const std::string &module_name)
{
    std::string pkg = "modpop3d-" + module_name;
    std::replace(pkg.begin(), pkg.end(), '_', '-');
    return pkg;
}

const char *kind_name(uint32_t kind)
{
    switch (kind) {
    case MODPOP3D_KIND_AUTH:
        return "auth";
    case MODPOP3D_KIND_MAILBOX:
        return "mailbox";
    case MODPOP3D_KIND_HOOK:
        return "hook";
    default:
        return "unknown";
    }
}

Loader::Loader(std::string module_dir) : dir_(std::move(module_dir))
{
    ltdl_acquire();
}

Loader::~Loader()
{
    // Close in reverse load order, after the caller has freed all instances.
    for (auto it = modules_.rbegin(); it != modules_.rend(); ++it)
        if ((*it)->handle != nullptr)
            lt_dlclose((*it)->handle);
}

const ModuleInfo *Loader::load(const std::string &name, std::string &error)
{
    for (const auto &m : modules_)
        if (m->name == name)
            return m.get();
    std::string path = dir_ + "/" + name + ".so";
    if (access(path.c_str(), F_OK) != 0) {
        error = "module '" + name + "' not found in " + dir_ + ": is the " + package_for(name) +
                " package installed?";
        return nullptr;
    }
    if (geteuid() == 0) {
        for (const auto &p : {dir_, path}) {
            std::string why = unsafe_owner(p);
            if (!why.empty()) {
                error = "module '" + name + "' refused: " + why +
                        "; fix with chown root and chmod go-w";
                return nullptr;
            }
        }
    }
    return open(name, path, error);
}

const ModuleInfo *Loader::load_path(const std::string &path, std::string &error)
{
    return open(stem_of(path), path, error);
}

const ModuleInfo *Loader::open(const std::string &name, const std::string &path, std::string &error)
{
    lt_dladvise advise;
    lt_dladvise_init(&advise);
    lt_dladvise_ext(&advise);
    lt_dladvise_local(&advise);
    lt_dlhandle handle = lt_dlopenadvise(path.c_str(), advise);
    lt_dladvise_destroy(&advise);
    if (handle == nullptr) {
        const char *why = lt_dlerror();
        error = "module '" + name + "' (" + path +
                ") cannot be loaded: " + (why ? why : "unknown error") + "; reinstall the " +
                package_for(name) + " package";
        return nullptr;
    }
    auto info = std::make_unique<ModuleInfo>();
    info->name = name;
    info->path = path;
    info->handle = handle;
    auto fail = [&](const std::string &why) -> const ModuleInfo * {
        error = "module '" + name + "' (" + path + ") refused: " + why;
        lt_dlclose(handle);
        return nullptr;
    };

    void *sym = lt_dlsym(handle, MODPOP3D_ENTRY_SYMBOL);
    if (sym == nullptr)
        return fail("it has no " MODPOP3D_ENTRY_SYMBOL "() entry point; is it a modpop3d module?");
    auto entry = reinterpret_cast<modpop3d_module_entry_fn>(sym);
    const modpop3d_module *desc = entry();
    if (desc == nullptr)
        return fail("its entry point returned no descriptor");
    if (desc->abi_major != MODPOP3D_ABI_MAJOR)
        return fail("it was built for modpop3d ABI " +
                    abi_string(desc->abi_major, desc->abi_minor) + ", this server has ABI " +
                    abi_string(MODPOP3D_ABI_MAJOR, MODPOP3D_ABI_MINOR) + ": rebuild it or update " +
                    package_for(name));
    if (desc->abi_minor > MODPOP3D_ABI_MINOR)
        return fail("it needs modpop3d ABI " + abi_string(desc->abi_major, desc->abi_minor) +
                    ", newer than this server's " +
                    abi_string(MODPOP3D_ABI_MAJOR, MODPOP3D_ABI_MINOR) + ": update modpop3d");
    if (desc->struct_size < module_v1_size)
        return fail("its descriptor is " + std::to_string(desc->struct_size) +
                    " bytes, smaller than ABI 1.0's " + std::to_string(module_v1_size));
    if (desc->name == nullptr || name != desc->name)
        return fail(std::string("its descriptor calls it '") + (desc->name ? desc->name : "") +
                    "'; the file must be named after the module");
    if (desc->flags & ~MODPOP3D_MODF_ALL)
        return fail("it sets descriptor flags this server does not know; update modpop3d");
    std::size_t need = 0;
    switch (desc->kind) {
    case MODPOP3D_KIND_AUTH:
        need = auth_ops_v1_size;
        break;
    case MODPOP3D_KIND_MAILBOX:
        need = mailbox_ops_v1_size;
        break;
    case MODPOP3D_KIND_HOOK:
        need = hook_ops_v1_size;
        break;
    default:
        return fail("unknown module kind " + std::to_string(desc->kind));
    }
    if (desc->ops == nullptr || *static_cast<const uint32_t *>(desc->ops) < need)
        return fail(std::string("its ") + kind_name(desc->kind) +
                    " ops table is missing or too small");
    if (desc->instance_new == nullptr || desc->instance_free == nullptr)
        return fail("it has no instance_new/instance_free");
    if (desc->conf_schema != nullptr) {
        if (desc->conf_item_size < conf_item_v1_size)
            return fail("its config schema items are smaller than ABI 1.0's");
        auto *raw = reinterpret_cast<const unsigned char *>(desc->conf_schema);
        for (std::size_t i = 0; i < 1024; ++i) {
            auto *item =
                reinterpret_cast<const modpop3d_conf_item *>(raw + i * desc->conf_item_size);
            if (item->key == nullptr)
                break;
            config::KeySpec k;
            k.key = item->key;
            k.type = item->type;
            k.flags = item->flags;
            if (item->default_value != nullptr)
                k.default_value = item->default_value;
            k.help = item->help ? item->help : "";
            k.choices = item->choices ? item->choices : "";
            k.min = item->min;
            k.max = item->max;
            if (k.type < MODPOP3D_CONF_STRING || k.type > MODPOP3D_CONF_TEMPLATE)
                return fail("config key '" + k.key + "' has an unknown type");
            info->schema.push_back(std::move(k));
        }
    }
    info->desc = desc;
    modules_.push_back(std::move(info));
    return modules_.back().get();
}

std::vector<std::string> Loader::available() const
{
    std::vector<std::string> names;
    DIR *d = opendir(dir_.c_str());
    if (d == nullptr)
        return names;
    while (dirent *e = readdir(d)) {
        std::string f = e->d_name;
        if (f.size() > 3 && f.compare(f.size() - 3, 3, ".so") == 0 && f[0] != '.')
            names.push_back(f.substr(0, f.size() - 3));
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace modpop3d::modload
