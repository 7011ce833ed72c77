/*
 * modpop3d/module.h - the module descriptor and the one exported entry point.
 *
 * A module is a shared object named after its descriptor (`auth_pam.so` holds
 * name "auth_pam", configured by `[auth_pam]` sections, shipped in the
 * package `modpop3d-auth-pam`). It exports exactly one symbol,
 * modpop3d_module_entry(), which returns a static const descriptor and has no
 * side effects. Define it with MODPOP3D_MODULE_DEFINE().
 *
 * Version rule: the core loads a module when its abi_major equals the core's
 * and its abi_minor is not newer than the core's. MAJOR changes when a member
 * is removed, reordered or retyped, or a meaning changes; MINOR when members
 * are appended to a size-prefixed struct or new constants are defined.
 *
 * Lifecycle, in the order the core calls it:
 *   conf_check     master (also `modpop3d -t`): validate one section; no I/O
 *                  beyond reading files the section names.
 *   instance_new   master: parse and prepare; open no connections.
 *   process_init   in every process that will use the instance, after fork
 *                  and privilege drop: connect to databases, start helpers.
 *   ops...         see auth.h, mailbox.h, hook.h.
 *   instance_free  on shutdown or after a reload replaced the instance; in
 *                  each process that ran process_init, and in the master.
 *
 * Exceptions: C++ modules must not let exceptions escape any function whose
 * address is in a table; modpop3d/module.hpp has a guard that maps them to
 * status codes.
 *
 * \since ABI 1.0
 */
#ifndef MODPOP3D_MODULE_H
#define MODPOP3D_MODULE_H

#include <modpop3d/auth.h>
#include <modpop3d/hook.h>
#include <modpop3d/host.h>
#include <modpop3d/mailbox.h>
#include <modpop3d/status.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI this header describes. */
#define MODPOP3D_ABI_MAJOR 1
#define MODPOP3D_ABI_MINOR 0

/** The name of the one symbol a module exports. */
#define MODPOP3D_ENTRY_SYMBOL "modpop3d_module_entry"

#if defined(__GNUC__) || defined(__clang__)
#define MODPOP3D_EXPORT __attribute__((visibility("default")))
#else
#define MODPOP3D_EXPORT
#endif

/* Module kinds (descriptor `kind`). */
#define MODPOP3D_KIND_AUTH 1u
#define MODPOP3D_KIND_MAILBOX 2u
#define MODPOP3D_KIND_HOOK 3u

/* Descriptor flags. The core refuses a module with unknown bits set. */
/** Needs root in the auth process (shadow, PAM with pam_unix). */
#define MODPOP3D_MODF_NEEDS_ROOT 0x1u
/** Calls may block for long (network backends): run on the auth thread pool
 *  and never in an event loop thread. Auth and hook calls always run on the
 *  auth process's thread pool, so for them the flag documents the module;
 *  for mailbox modules it is reserved (their calls run on a worker's event
 *  loop, which the core does not yet move to a thread). */
#define MODPOP3D_MODF_BLOCKING 0x2u
/** The instance may be used from several threads at once. */
#define MODPOP3D_MODF_THREAD_SAFE 0x4u
/** The module runs embedded interpreters or libraries that want one process
 *  per instance (embedded Perl). Reserved: the core does not start such
 *  processes; an instance with this flag and without THREAD_SAFE is called
 *  from one thread at a time, like any other (auth_perl runs its own helper
 *  processes instead). */
#define MODPOP3D_MODF_SINGLE_THREADED 0x8u
#define MODPOP3D_MODF_ALL 0xfu

/* Config item types. */
#define MODPOP3D_CONF_STRING 1u   /**< Any text. */
#define MODPOP3D_CONF_INT 2u      /**< Decimal integer within [min, max]. */
#define MODPOP3D_CONF_BOOL 3u     /**< yes/no, true/false, on/off, 1/0. */
#define MODPOP3D_CONF_LIST 4u     /**< White-space separated words. */
#define MODPOP3D_CONF_PATH 5u     /**< An absolute path. */
#define MODPOP3D_CONF_SIZE 6u     /**< Bytes, with optional k/M/G suffix. */
#define MODPOP3D_CONF_DURATION 7u /**< Milliseconds; suffix ms/s/m/h/d, bare = seconds. */
#define MODPOP3D_CONF_ENUM 8u     /**< One word of `choices` ("a|b|c"). */
#define MODPOP3D_CONF_TEMPLATE 9u /**< Text with $(user)-style variables. */

/* Config item flags. */
/** The key must be set (no default). */
#define MODPOP3D_CONFF_REQUIRED 0x1u
/** A secret (database password): `modpop3d -n` prints "<hidden>". */
#define MODPOP3D_CONFF_SECRET 0x2u
/** The key may be given several times; values are joined by a space into
 *  a LIST. */
#define MODPOP3D_CONFF_MULTI 0x4u

/**
 * One key of a module's configuration schema. The schema is an array ended by
 * an item whose key is NULL. The core validates types and ranges before
 * conf_check() runs, so a module only checks what the schema cannot say.
 * Stride: the core uses the descriptor's conf_item_size, so this struct may
 * grow at the end in a minor version.
 */
struct modpop3d_conf_item {
    const char *key;           /**< Lower-case, words joined by '-'. */
    uint32_t type;             /**< MODPOP3D_CONF_*. */
    uint32_t flags;            /**< MODPOP3D_CONFF_*. */
    const char *default_value; /**< As it would be written in the file, or NULL. */
    const char *help;          /**< One sentence for `modpop3d -M` and the man page. */
    const char *choices;       /**< ENUM: "a|b|c"; otherwise NULL. */
    int64_t min;               /**< INT/SIZE/DURATION: lower bound (when min < max). */
    int64_t max;               /**< INT/SIZE/DURATION: upper bound (when min < max). */
};

struct modpop3d_module {
    /* Frozen: the first three members never change. */
    uint32_t struct_size; /**< sizeof(struct modpop3d_module) in the module's build. */
    uint16_t abi_major;   /**< MODPOP3D_ABI_MAJOR the module was built against. */
    uint16_t abi_minor;   /**< MODPOP3D_ABI_MINOR the module was built against. */

    uint32_t kind;           /**< MODPOP3D_KIND_*. */
    uint32_t flags;          /**< MODPOP3D_MODF_*. */
    const char *name;        /**< Equals the file stem and the config section. */
    const char *version;     /**< The module's own release, free text. */
    const char *description; /**< One line for `modpop3d -M`. */

    const struct modpop3d_conf_item *conf_schema; /**< NULL-key terminated, or NULL. */
    uint32_t conf_item_size; /**< sizeof(struct modpop3d_conf_item) in the module's build. */
    uint32_t reserved;       /**< 0. */

    /**
     * conf_check - validate one section beyond what the schema checks; report
     * each problem with host->conf_error() and return MODPOP3D_E_CONFIG, or
     * MODPOP3D_OK. Master process, main thread. Optional.
     */
    int32_t (*conf_check)(const struct modpop3d_host *host, const struct modpop3d_conf *conf);

    /**
     * instance_new - build an instance from a section. `host` and `ictx` stay
     * valid until instance_free() and should be kept for logging. Sets
     * *ret_inst. Master process; open no connections here.
     */
    int32_t (*instance_new)(const struct modpop3d_host *host, const struct modpop3d_conf *conf,
                            struct modpop3d_ictx *ictx, void **ret_inst);

    /** process_init - after fork and privilege drop, before any op. Optional. */
    int32_t (*process_init)(void *inst);

    /** instance_free - release the instance. Never fails. */
    void (*instance_free)(void *inst);

    /** The kind's ops table: struct modpop3d_auth_ops, _mailbox_ops or
     *  _hook_ops, whose first member is its struct_size. */
    const void *ops;
};

/** The type of the exported entry point. */
typedef const struct modpop3d_module *(*modpop3d_module_entry_fn)(void);

/**
 * MODPOP3D_MODULE_DEFINE - emit the exported entry point returning `desc`
 * (the name of a static const struct modpop3d_module).
 */
#ifdef __cplusplus
#define MODPOP3D_MODULE_DEFINE(desc)                                                               \
    extern "C" MODPOP3D_EXPORT const struct modpop3d_module *modpop3d_module_entry(void) noexcept; \
    extern "C" MODPOP3D_EXPORT const struct modpop3d_module *modpop3d_module_entry(void) noexcept  \
    {                                                                                              \
        return &(desc);                                                                            \
    }
#else
#define MODPOP3D_MODULE_DEFINE(desc)                                                               \
    MODPOP3D_EXPORT const struct modpop3d_module *modpop3d_module_entry(void);                     \
    MODPOP3D_EXPORT const struct modpop3d_module *modpop3d_module_entry(void)                      \
    {                                                                                              \
        return &(desc);                                                                            \
    }
#endif

#ifdef __cplusplus
}
#endif

#endif /* MODPOP3D_MODULE_H */
