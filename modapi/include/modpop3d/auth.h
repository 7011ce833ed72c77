/*
 * modpop3d/auth.h - the vtable of auth_* modules.
 *
 * An auth module answers "is this the user's secret?" (verify_plain) and, when
 * it can, "what is the user's stored secret?" (lookup_credentials), so that the
 * core computes APOP, CRAM-MD5 and SCRAM itself and compares in constant time.
 * A module that stores only one-way hashes leaves lookup_credentials NULL and
 * the core then does not offer APOP or CRAM-MD5 for it.
 *
 * Process and thread: auth ops run in the auth process, on its thread pool.
 * The core never runs two calls on the same instance at once unless the module
 * sets MODPOP3D_MODF_THREAD_SAFE in its descriptor flags; slow backends
 * (SQL, LDAP, PAM, helper programs) only ever stall their own thread.
 *
 * Outcome contract (the chain of instances is ordered by `priority`):
 *   MODPOP3D_OK          success; the module called host->result_set() for at
 *                        least "user" and "mailbox" (or the instance's default
 *                        mailbox applies), and uid/gid/home where it has them.
 *   MODPOP3D_E_NOUSER    unknown user: the next instance is asked.
 *   MODPOP3D_E_BADPASS   wrong secret: the chain stops, "-ERR [AUTH]".
 *   MODPOP3D_E_TEMP      backend down: the chain stops, "-ERR [SYS/TEMP]".
 *   MODPOP3D_E_PERM      account refused: the chain stops, "-ERR [AUTH]".
 *
 * \since ABI 1.0
 */
#ifndef MODPOP3D_AUTH_H
#define MODPOP3D_AUTH_H

#include <modpop3d/host.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* caps bits: what an instance can do. Unknown bits are ignored by the core. */
/** verify_plain is implemented (USER/PASS, SASL PLAIN and LOGIN). */
#define MODPOP3D_AUTHC_PLAIN 0x1u
/** lookup_credentials is implemented (APOP, CRAM-MD5, SCRAM-SHA-256). */
#define MODPOP3D_AUTHC_CREDENTIALS 0x2u
/** sasl_mechanisms/sasl_step are implemented (module-owned SASL, e.g. GSSAPI).
 *  Reserved: this core does not offer or call module-owned mechanisms yet
 *  (CRAM-MD5 and SCRAM are the core's, from lookup_credentials); a module
 *  may set it and fill the three entry points, which are then not called. */
#define MODPOP3D_AUTHC_SASL 0x4u

struct modpop3d_auth_ops {
    uint32_t struct_size; /**< sizeof(struct modpop3d_auth_ops) in the module's build. */
    uint32_t caps;        /**< MODPOP3D_AUTHC_* bits. */

    /**
     * verify_plain - check a user name and plaintext password.
     * `user` is the login name after the core's rewriting (lowercase-user,
     * append-domain, ...), NUL-terminated, sanitised of NUL and control
     * characters but otherwise client-chosen: escape it before it reaches a
     * query. `pass` is `pass_len` bytes, not NUL-terminated, may contain
     * anything; never log it. On success call host->result_set().
     * Returns one of the outcomes listed at the top of this file.
     */
    int32_t (*verify_plain)(void *inst, struct modpop3d_session *session, const char *user,
                            const char *pass, size_t pass_len, struct modpop3d_auth_result *res);

    /**
     * lookup_credentials - find the user's stored secret and set "password"
     * with host->result_set(), plus the same facts as verify_plain.
     * `scheme` names what the core wants ("PLAIN" for APOP and CRAM-MD5,
     * "SCRAM-SHA-256" for SCRAM); a module that can only give another scheme
     * returns MODPOP3D_E_NOTSUP. Optional (NULL).
     */
    int32_t (*lookup_credentials)(void *inst, struct modpop3d_session *session, const char *user,
                                  const char *scheme, struct modpop3d_auth_result *res);

    /**
     * sasl_mechanisms - space-separated SASL mechanisms the module implements
     * itself, or NULL. Borrowed for the instance's lifetime. Optional.
     * Reserved, like sasl_step and sasl_free: see MODPOP3D_AUTHC_SASL.
     */
    const char *(*sasl_mechanisms)(void *inst);

    /**
     * sasl_step - one step of a module-owned SASL mechanism. `*state` is NULL
     * on the first step; the module may store its own pointer there (allocate
     * it with host->session_alloc, or free it in sasl_free). `in` is the
     * decoded client response. On MODPOP3D_CONTINUE the module points
     * *ret_out at a challenge (borrowed until the next call). Final outcomes as
     * verify_plain. Optional.
     */
    int32_t (*sasl_step)(void *inst, struct modpop3d_session *session, void **state,
                         const char *mech, const unsigned char *in, size_t in_len,
                         const unsigned char **ret_out, size_t *ret_out_len,
                         struct modpop3d_auth_result *res);

    /** sasl_free - release `state` from sasl_step (called once, also on cancel). */
    void (*sasl_free)(void *inst, void *state);

    /**
     * on_login - called on the instance that authenticated the user after a
     * successful USER/PASS, APOP or SASL login (PLAIN, LOGIN, and CRAM-MD5 or
     * SCRAM from this instance's lookup_credentials; the credentials and the
     * AUTH_OK hooks passed), on the auth thread pool (tpop3d's
     * ONLOGIN, e.g. for POP-before-SMTP in an auth helper or an SQL insert).
     * The maildrop may not be open yet. Its result is logged, not enforced.
     * Optional.
     */
    int32_t (*on_login)(void *inst, struct modpop3d_session *session);
};

#ifdef __cplusplus
}
#endif

#endif /* MODPOP3D_AUTH_H */
