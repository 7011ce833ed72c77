// auth_throws.cpp - a module whose bodies throw, to prove that the guard in
// modpop3d/module.hpp stops exceptions at the ABI boundary and turns them
// into status codes (std::bad_alloc -> NOMEM, anything else -> INTERNAL).
#include <modpop3d/module.hpp>
#include <new>
#include <stdexcept>
#include <string>

namespace
{

struct Instance {
    const modpop3d_host *host;
    modpop3d_ictx *ictx;
};

int32_t instance_new(const modpop3d_host *host, const modpop3d_conf *, modpop3d_ictx *ictx,
                     void **ret) noexcept
{
    return modpop3d::guard(host, ictx, [&] {
        *ret = new Instance{host, ictx};
        return MODPOP3D_OK;
    });
}

void instance_free(void *p) noexcept
{
    delete static_cast<Instance *>(p);
}

int32_t verify_plain(void *p, modpop3d_session *, const char *user, const char *, size_t,
                     modpop3d_auth_result *) noexcept
{
    auto *inst = static_cast<Instance *>(p);
    return modpop3d::guard(inst->host, inst->ictx, [&]() -> int32_t {
        if (std::string(user) == "oom")
            throw std::bad_alloc();
        if (std::string(user) == "int")
            throw 42;
        throw std::runtime_error("backend exploded");
    });
}

const modpop3d_auth_ops ops = {
    sizeof(modpop3d_auth_ops),
    MODPOP3D_AUTHC_PLAIN,
    verify_plain,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_AUTH,
    0,
    "auth_throws",
    "1",
    "throws from every call (tests only)",
    nullptr,
    sizeof(modpop3d_conf_item),
    0,
    nullptr,
    instance_new,
    nullptr,
    instance_free,
    &ops,
};

} // namespace

MODPOP3D_MODULE_DEFINE(descriptor)
