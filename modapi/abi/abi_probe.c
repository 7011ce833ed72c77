/*
 * abi_probe.c - one exported function per public type, so that abidw sees
 * every struct of modapi and the committed baseline covers all of them.
 * Built as a shared object with debug information; never installed.
 */
#include <modpop3d/module.h>

#define PROBE(name, type)                                                                          \
    __attribute__((visibility("default"))) void name(type *p);                                     \
    __attribute__((visibility("default"))) void name(type *p)                                      \
    {                                                                                              \
        (void)p;                                                                                   \
    }

PROBE(modpop3d_probe_module, struct modpop3d_module)
PROBE(modpop3d_probe_conf_item, struct modpop3d_conf_item)
PROBE(modpop3d_probe_host, struct modpop3d_host)
PROBE(modpop3d_probe_auth_ops, struct modpop3d_auth_ops)
PROBE(modpop3d_probe_mailbox_ops, struct modpop3d_mailbox_ops)
PROBE(modpop3d_probe_msg_info, struct modpop3d_msg_info)
PROBE(modpop3d_probe_sink, struct modpop3d_sink)
PROBE(modpop3d_probe_commit, struct modpop3d_commit)
PROBE(modpop3d_probe_hook_ops, struct modpop3d_hook_ops)
PROBE(modpop3d_probe_event_info, struct modpop3d_event_info)
PROBE(modpop3d_probe_entry, modpop3d_module_entry_fn)
PROBE(modpop3d_probe_escape, modpop3d_escape_fn)
