/*
 * modpop3d/hook.h - the vtable of hook_* modules.
 *
 * Hooks observe session events (POP-before-SMTP, DRAC, WHOSON, bulletins,
 * accounting) and may veto a login. They run in priority order.
 *
 * Process and thread: every event runs in the auth process (as mail-user,
 * or root only when a loaded module needs root), on its thread pool, for
 * sessions of every login worker and session process. Set
 * MODPOP3D_MODF_THREAD_SAFE when on_event may run on several threads at
 * once; otherwise the core serialises calls to the instance. A login waits
 * for the AUTH_OK and LOGIN verdicts (LOGIN at most hook-timeout, then
 * MODPOP3D_E_TEMP); the login worker serves its other sessions meanwhile.
 * LOGOUT and AUTH_FAIL are not waited for. New events are new constants: a
 * hook must return MODPOP3D_OK for an event it does not know.
 *
 * \since ABI 1.0
 */
#ifndef MODPOP3D_HOOK_H
#define MODPOP3D_HOOK_H

#include <modpop3d/host.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Credentials accepted; the maildrop is not open yet. May veto. */
#define MODPOP3D_EV_AUTH_OK 0x1u
/** Credentials refused (the reason is not given: do not leak it). */
#define MODPOP3D_EV_AUTH_FAIL 0x2u
/** The maildrop is open and locked; the +OK is about to be sent. May veto. */
#define MODPOP3D_EV_LOGIN 0x4u
/** The session ended (QUIT, drop or timeout). Notification only. */
#define MODPOP3D_EV_LOGOUT 0x8u

/** Counters and facts of an event; size-prefixed, grows at the end. */
struct modpop3d_event_info {
    uint32_t struct_size;      /**< Set by the core. */
    uint32_t event;            /**< One MODPOP3D_EV_* value. */
    uint32_t messages;         /**< Messages in the maildrop at login. */
    uint32_t retrieved;        /**< Messages RETR'd (LOGOUT). */
    uint32_t deleted;          /**< Messages deleted at UPDATE (LOGOUT). */
    uint32_t reserved;         /**< 0. */
    uint64_t octets;           /**< Size of the maildrop at login. */
    uint64_t retrieved_octets; /**< Octets of messages RETR'd (LOGOUT). */
    uint64_t deleted_octets;   /**< Octets deleted at UPDATE (LOGOUT). */
    uint64_t duration_usec;    /**< Session length (LOGOUT). */
    const char *mailbox_path;  /**< Opened maildrop location (LOGIN, LOGOUT), else NULL. */
};

struct modpop3d_hook_ops {
    uint32_t struct_size; /**< sizeof(struct modpop3d_hook_ops) in the module's build. */
    uint32_t events;      /**< Mask of MODPOP3D_EV_* the hook wants. */

    /**
     * on_event - handle one event. At AUTH_OK and LOGIN, MODPOP3D_E_PERM
     * refuses the login ("-ERR [AUTH]") and MODPOP3D_E_TEMP defers it
     * ("-ERR [SYS/TEMP]"); for other events the result is only logged.
     */
    int32_t (*on_event)(void *inst, struct modpop3d_session *session,
                        const struct modpop3d_event_info *info);
};

#ifdef __cplusplus
}
#endif

#endif /* MODPOP3D_HOOK_H */
