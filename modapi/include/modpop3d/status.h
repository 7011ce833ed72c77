/*
 * modpop3d/status.h - status codes shared by the core and every module.
 *
 * Every function in a modapi table returns an int32_t status. Zero and the
 * positive values are successes or flow-control answers; negative values are
 * errors. The comment on each code says how the core turns it into a POP3
 * reply (RFC 2449 and RFC 3206 response codes), so a module author knows what
 * the client will see.
 *
 * Unknown values: the core treats any unknown negative value as
 * MODPOP3D_E_INTERNAL and any unknown positive value as MODPOP3D_OK. New codes
 * are therefore a MINOR change.
 *
 * \since ABI 1.0
 */
#ifndef MODPOP3D_STATUS_H
#define MODPOP3D_STATUS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Success. */
#define MODPOP3D_OK 0
/** SASL: the exchange goes on; send the challenge and call again. */
#define MODPOP3D_CONTINUE 1
/** Sink: the core has what it needs (TOP limit reached); stop and return OK. */
#define MODPOP3D_STOP 2
/** Sink: the core's buffer is full; return PAUSE to the core, which calls
 *  retrieve() again later with the offset it has reached. */
#define MODPOP3D_PAUSE 3

/** Auth: the user is unknown to this instance; the chain tries the next one.
 *  Client: "-ERR [AUTH]" (identical to BADPASS, so users cannot be probed). */
#define MODPOP3D_E_NOUSER (-1)
/** Auth: the user exists and the secret is wrong; the chain stops.
 *  Client: "-ERR [AUTH]". */
#define MODPOP3D_E_BADPASS (-2)
/** A backend is unreachable, timed out or is busy: try later.
 *  Client: "-ERR [SYS/TEMP]"; never reported as a wrong password. */
#define MODPOP3D_E_TEMP (-3)
/** Refused for good (account disabled, hook veto, policy).
 *  Client: "-ERR [SYS/PERM]" for mailboxes, "-ERR [AUTH]" for logins. */
#define MODPOP3D_E_PERM (-4)
/** Mailbox: another session holds the lock. Client: "-ERR [IN-USE]". */
#define MODPOP3D_E_LOCKED (-5)
/** Mailbox: this location does not exist; the core tries the next mailbox
 *  spec of the ordered list (tpop3d semantics). */
#define MODPOP3D_E_NOENT (-6)
/** Out of memory. Client: "-ERR [SYS/TEMP]". */
#define MODPOP3D_E_NOMEM (-7)
/** A bug or an unexpected condition (a caught C++ exception maps here).
 *  Client: "-ERR [SYS/PERM]". */
#define MODPOP3D_E_INTERNAL (-8)
/** An argument was invalid (a key not in the schema, a bad index). */
#define MODPOP3D_E_INVAL (-9)
/** The operation is not supported by this module (e.g. a credential scheme
 *  it cannot produce). The auth chain treats it like NOUSER for that call. */
#define MODPOP3D_E_NOTSUP (-10)
/** Mailbox: the message vanished under us (deleted by another agent).
 *  Client: "-ERR" for that command only; the session goes on. */
#define MODPOP3D_E_GONE (-11)
/** Configuration error; details were reported with host->conf_error(). */
#define MODPOP3D_E_CONFIG (-12)
/** I/O error on a file or socket the module owns. Client: "-ERR [SYS/TEMP]". */
#define MODPOP3D_E_IO (-13)
/** Disk full or quota exceeded while writing. Client: "-ERR [SYS/TEMP]";
 *  the module must leave the mailbox as it was. */
#define MODPOP3D_E_NOSPACE (-14)
/** Mailbox contents are damaged beyond what the module can serve.
 *  Client: "-ERR [SYS/PERM]". */
#define MODPOP3D_E_CORRUPT (-15)

#ifdef __cplusplus
}
#endif

#endif /* MODPOP3D_STATUS_H */
