/*
 * modpop3d/host.h - the service table the core hands to every module.
 *
 * Modules link against nothing from the core: every service they may use is a
 * function pointer in struct modpop3d_host, passed to conf_check() and
 * instance_new(). The table is size-prefixed and append-only: a member added in
 * ABI 1.N is present only when MODPOP3D_HAS(host, member) is true, so a module
 * built against a newer minor can still run (carefully) on an older core.
 *
 * Thread and process contract (applies to every service unless a member says
 * otherwise): services may be called from the thread the core called the module
 * on, in the process it was called in. Only log() and vlog() may be called from
 * threads the module created itself. No service blocks for long.
 *
 * Ownership: strings returned by services are borrowed. Config values live until
 * instance_free(); session facts and session_alloc() memory live until the
 * session ends. Whoever allocates frees: nothing crosses the ABI to be freed by
 * the other side.
 *
 * \since ABI 1.0
 */
#ifndef MODPOP3D_HOST_H
#define MODPOP3D_HOST_H

#include <modpop3d/status.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MODPOP3D_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define MODPOP3D_PRINTF(fmt_idx, arg_idx)
#endif

/** One configuration section (`[module]` or `[module/instance]`). Opaque. */
struct modpop3d_conf;
/** The core's handle for one module instance; names it in log lines. Opaque. */
struct modpop3d_ictx;
/** One client session: facts about it and its memory arena. Opaque. */
struct modpop3d_session;
/** Where an auth module puts the outcome of a successful lookup. Opaque. */
struct modpop3d_auth_result;

/* Log levels, as syslog(3) priorities. */
#define MODPOP3D_LOG_ERR 3
#define MODPOP3D_LOG_WARNING 4
#define MODPOP3D_LOG_NOTICE 5
#define MODPOP3D_LOG_INFO 6
#define MODPOP3D_LOG_DEBUG 7

/**
 * Escaping callback for expand(): writes the escaped form of `in` to `out`
 * (at most `outlen` bytes, no NUL needed) and returns the length the escaped
 * form needs. The core calls it again with a larger buffer when the return
 * value exceeds `outlen`. auth_mysql passes an SQL-literal escaper, auth_ldap
 * an RFC 4515 filter escaper. Called on the caller's thread.
 */
typedef size_t (*modpop3d_escape_fn)(void *ctx, const char *in, size_t inlen, char *out,
                                     size_t outlen);

struct modpop3d_host {
    /* Frozen: the first three members never change. */
    uint32_t struct_size; /**< sizeof(struct modpop3d_host) in the core's build. */
    uint16_t abi_major;   /**< MODPOP3D_ABI_MAJOR of the running core. */
    uint16_t abi_minor;   /**< MODPOP3D_ABI_MINOR of the running core. */

    /* --- Logging ------------------------------------------------------ */

    /**
     * log - write one structured log line, prefixed "module=NAME[/INSTANCE]".
     * `ictx` may be NULL (from conf_check), then the line names the module of
     * the section being checked. The text must never contain a password.
     * Callable from any thread, including the module's own.
     */
    void (*log)(const struct modpop3d_ictx *ictx, int32_t level, const char *fmt, ...)
        MODPOP3D_PRINTF(3, 4);
    /** vlog - log() with a va_list. Callable from any thread. */
    void (*vlog)(const struct modpop3d_ictx *ictx, int32_t level, const char *fmt, va_list ap)
        MODPOP3D_PRINTF(3, 0);

    /* --- Configuration -------------------------------------------------- */

    /**
     * conf_str - the value of `key` in this section, after the schema applied
     * defaults. Returns MODPOP3D_OK and sets *ret_value, MODPOP3D_E_NOENT when
     * the key is unset and has no default, MODPOP3D_E_INVAL when the key is not
     * in the module's schema. Borrowed until instance_free().
     */
    int32_t (*conf_str)(const struct modpop3d_conf *conf, const char *key, const char **ret_value);
    /** conf_int - an INT, SIZE or DURATION key (sizes in bytes, durations in
     *  milliseconds). Errors as conf_str. */
    int32_t (*conf_int)(const struct modpop3d_conf *conf, const char *key, int64_t *ret_value);
    /** conf_bool - a BOOL key: *ret_value is 0 or 1. Errors as conf_str. */
    int32_t (*conf_bool)(const struct modpop3d_conf *conf, const char *key, int32_t *ret_value);
    /**
     * conf_list_item - item `index` (from 0) of a LIST key, whose items are
     * separated by white space. MODPOP3D_E_NOENT past the last item.
     */
    int32_t (*conf_list_item)(const struct modpop3d_conf *conf, const char *key, uint32_t index,
                              const char **ret_item);
    /**
     * conf_error - report a configuration problem found by conf_check() or
     * instance_new(). The core prints it as "FILE:LINE: [section] key: text",
     * with the line of `key` (or of the section header when key is NULL), and
     * `modpop3d -t` exits 1. Returns MODPOP3D_E_CONFIG for convenience.
     */
    int32_t (*conf_error)(const struct modpop3d_conf *conf, const char *key, const char *fmt, ...)
        MODPOP3D_PRINTF(3, 4);
    /** conf_instance - the instance id ("customers" for [auth_sql/customers]),
     *  or "" for a plain [module] section. Borrowed until instance_free(). */
    const char *(*conf_instance)(const struct modpop3d_conf *conf);

    /* --- Sessions ------------------------------------------------------- */

    /**
     * session_get - a fact about the session, or NULL when unknown:
     * "user" (login name after rewriting), "local_part", "domain", "home",
     * "client_ip", "client_port", "local_ip", "local_port", "listener",
     * "tls" ("1"/"0"), "method" (USER, APOP, SASL mechanism), "session_id".
     * Values derived from the client are already sanitised (see expand()).
     * Borrowed until the session ends.
     */
    const char *(*session_get)(const struct modpop3d_session *session, const char *key);
    /** session_alloc - `size` bytes from the session arena, 16-byte aligned,
     *  freed by the core when the session ends. NULL when out of memory. */
    void *(*session_alloc)(struct modpop3d_session *session, size_t size);
    /** session_strdup - copy `s` into the session arena. NULL when out of memory. */
    char *(*session_strdup)(struct modpop3d_session *session, const char *s);

    /**
     * expand - substitute $(user) $(local_part) $(domain) $(home) $(user[i])
     * (i-th character of the user name, negative from the end) $(client_ip)
     * and $(local_ip) in `tmpl`, writing a NUL-terminated result to `buf`.
     * Values from the client are sanitised first: a value containing "/",
     * "..", NUL or a control character makes expand fail with
     * MODPOP3D_E_INVAL instead of reaching a path. When `escape` is not NULL
     * every substituted value is passed through it (SQL, LDAP). Returns
     * MODPOP3D_OK, MODPOP3D_E_INVAL (unknown variable, bad value) or
     * MODPOP3D_E_NOMEM (buffer too small; *ret_len says what was needed).
     */
    int32_t (*expand)(const struct modpop3d_session *session, const char *tmpl,
                      modpop3d_escape_fn escape, void *escape_ctx, char *buf, size_t buflen,
                      size_t *ret_len);

    /* --- Auth results --------------------------------------------------- */

    /**
     * result_set - record one part of a successful authentication:
     * "user" (canonical login name), "uid", "gid" (decimal), "home",
     * "mailbox" (an ordered mailbox spec list such as
     * "maildir:$(home)/Maildir bsd:/var/mail/$(user)"), "password" (the stored
     * secret, "{SCHEME}..." or a crypt(3) string, answering
     * lookup_credentials), "login_delay", "expire" (seconds, days).
     * The value is copied. MODPOP3D_E_INVAL for an unknown key or a bad value.
     */
    int32_t (*result_set)(struct modpop3d_auth_result *res, const char *key, const char *value);

    /* --- Utilities ------------------------------------------------------ */

    /** now_usec - CLOCK_MONOTONIC in microseconds. */
    uint64_t (*now_usec)(void);
    /** random_bytes - fill `buf` from the kernel CSPRNG. MODPOP3D_E_IO on failure. */
    int32_t (*random_bytes)(void *buf, size_t len);
    /** const_time_equal - 1 when the buffers are equal, else 0; the time taken
     *  depends on `len` only. */
    int32_t (*const_time_equal)(const void *a, const void *b, size_t len);
    /**
     * password_verify - check `plain` against a stored secret: "{SCHEME}value"
     * (PLAIN, CRYPT, MD5, SHA1, MYSQL, ARGON2ID, SCRAM-SHA-256: a SCRAM
     * verifier is checked by recomputing its keys from `plain`) or a bare
     * crypt(3) string (yescrypt, sha512-crypt, sha256-crypt, bcrypt,
     * md5-crypt). Constant-time. Returns MODPOP3D_OK, MODPOP3D_E_BADPASS or
     * MODPOP3D_E_NOTSUP (unknown scheme or malformed secret: the module
     * should log where the secret came from). Safe on any core-provided
     * thread.
     */
    int32_t (*password_verify)(const char *stored, const char *plain, size_t plain_len);
    /**
     * password_dummy_verify - spend the time password_verify() would spend on
     * the default scheme, for an unknown user, so that unknown users and wrong
     * passwords look alike from outside. Always returns MODPOP3D_E_BADPASS.
     */
    int32_t (*password_dummy_verify)(const char *plain, size_t plain_len);
};

/**
 * MODPOP3D_HAS - true when the host table is large enough to contain `member`.
 * Use it before calling a service that appeared after the ABI minor the
 * module requires.
 */
#define MODPOP3D_HAS(host, member)                                                                 \
    ((host) != NULL &&                                                                             \
     offsetof(struct modpop3d_host, member) + sizeof((host)->member) <= (host)->struct_size &&     \
     (host)->member != NULL)

#ifdef __cplusplus
}
#endif

#endif /* MODPOP3D_HOST_H */
