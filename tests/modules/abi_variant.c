/*
 * abi_variant.c - one source, several deliberately broken modules, selected
 * by VARIANT at compile time, to test the loader's refusals:
 *   1: built for a future ABI major (auth_abi_major2)
 *   2: built for a newer ABI minor than the core (auth_abi_minor_new)
 *   3: descriptor name differs from the file (auth_misnamed)
 */
#include <modpop3d/module.h>

static int32_t instance_new(const struct modpop3d_host *host, const struct modpop3d_conf *conf,
                            struct modpop3d_ictx *ictx, void **ret)
{
    (void)host;
    (void)conf;
    (void)ictx;
    *ret = 0;
    return MODPOP3D_OK;
}

static void instance_free(void *inst)
{
    (void)inst;
}

static const struct modpop3d_auth_ops ops = {sizeof(struct modpop3d_auth_ops), 0, 0, 0, 0, 0, 0, 0};

#if VARIANT == 1
#define V_MAJOR 2
#define V_MINOR 0
#define V_NAME "auth_abi_major2"
#elif VARIANT == 2
#define V_MAJOR MODPOP3D_ABI_MAJOR
#define V_MINOR (MODPOP3D_ABI_MINOR + 1)
#define V_NAME "auth_abi_minor_new"
#else
#define V_MAJOR MODPOP3D_ABI_MAJOR
#define V_MINOR MODPOP3D_ABI_MINOR
#define V_NAME "some_other_name"
#endif

static const struct modpop3d_module descriptor = {
    sizeof(struct modpop3d_module),
    V_MAJOR,
    V_MINOR,
    MODPOP3D_KIND_AUTH,
    0,
    V_NAME,
    "1",
    "a deliberately broken module (tests only)",
    0,
    sizeof(struct modpop3d_conf_item),
    0,
    0,
    instance_new,
    0,
    instance_free,
    &ops,
};

MODPOP3D_MODULE_DEFINE(descriptor)
