/*
 * abi_layout.h - the layout of every public struct pinned as static
 * assertions, included by a C and a C++ translation unit. A change here is an
 * ABI change: appending a member bumps MODPOP3D_ABI_MINOR and updates these
 * numbers and modapi/abi/modpop3d-modapi.abi in the same commit; anything
 * else bumps MODPOP3D_ABI_MAJOR.
 */
#include <modpop3d/module.h>
#include <stddef.h>

#ifdef __cplusplus
#define ABI_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define ABI_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define OFF(type, member, value) ABI_ASSERT(offsetof(type, member) == (value), #type "." #member)
#define SIZE(type, value) ABI_ASSERT(sizeof(type) == (value), "sizeof " #type)

ABI_ASSERT(MODPOP3D_ABI_MAJOR == 1 && MODPOP3D_ABI_MINOR == 0, "ABI version");

/* The frozen header of the descriptor, on every platform. */
OFF(struct modpop3d_module, struct_size, 0);
OFF(struct modpop3d_module, abi_major, 4);
OFF(struct modpop3d_module, abi_minor, 6);

#if defined(__x86_64__) || defined(__aarch64__)
SIZE(struct modpop3d_module, 96);
OFF(struct modpop3d_module, kind, 8);
OFF(struct modpop3d_module, flags, 12);
OFF(struct modpop3d_module, name, 16);
OFF(struct modpop3d_module, conf_schema, 40);
OFF(struct modpop3d_module, conf_item_size, 48);
OFF(struct modpop3d_module, conf_check, 56);
OFF(struct modpop3d_module, instance_new, 64);
OFF(struct modpop3d_module, process_init, 72);
OFF(struct modpop3d_module, instance_free, 80);
OFF(struct modpop3d_module, ops, 88);

SIZE(struct modpop3d_conf_item, 56);
OFF(struct modpop3d_conf_item, type, 8);
OFF(struct modpop3d_conf_item, default_value, 16);
OFF(struct modpop3d_conf_item, min, 40);

SIZE(struct modpop3d_host, 152);
OFF(struct modpop3d_host, log, 8);
OFF(struct modpop3d_host, conf_str, 24);
OFF(struct modpop3d_host, conf_error, 56);
OFF(struct modpop3d_host, session_get, 72);
OFF(struct modpop3d_host, expand, 96);
OFF(struct modpop3d_host, result_set, 104);
OFF(struct modpop3d_host, password_verify, 136);
OFF(struct modpop3d_host, password_dummy_verify, 144);

SIZE(struct modpop3d_auth_ops, 56);
OFF(struct modpop3d_auth_ops, verify_plain, 8);
OFF(struct modpop3d_auth_ops, on_login, 48);

SIZE(struct modpop3d_mailbox_ops, 64);
OFF(struct modpop3d_mailbox_ops, open, 8);
OFF(struct modpop3d_mailbox_ops, retrieve, 32);
OFF(struct modpop3d_mailbox_ops, keepalive, 56);

SIZE(struct modpop3d_msg_info, 32);
OFF(struct modpop3d_msg_info, size, 8);
OFF(struct modpop3d_msg_info, uidl, 16);
SIZE(struct modpop3d_sink, 24);
SIZE(struct modpop3d_commit, 24);

SIZE(struct modpop3d_hook_ops, 16);
SIZE(struct modpop3d_event_info, 64);
OFF(struct modpop3d_event_info, octets, 24);
OFF(struct modpop3d_event_info, mailbox_path, 56);
#endif
