/*
 * modpop3d/mailbox.h - the vtable of mailbox_* modules.
 *
 * A mailbox module opens one maildrop for one session, takes the MDA's lock,
 * lists the messages with exact sizes and UIDLs, streams a message's bytes into
 * a core-owned sink, and applies deletions at UPDATE. The core owns the POP3
 * side: message numbering, the DELE/RSET set, CRLF normalisation,
 * dot-stuffing, TOP limits and TLS. A module never touches the client socket.
 *
 * Process and thread: mailbox ops run in the session's process under the
 * mailbox owner's uid/gid (never root), one call at a time per mailbox
 * handle. Different handles may be used from different threads.
 *
 * Data safety contract:
 *  - close() always releases the lock and deletes nothing;
 *  - commit() is only called after QUIT in TRANSACTION (RFC 1939 UPDATE);
 *    it either applies all deletions or leaves the maildrop as it was, and
 *    keeps mail that arrived during the session;
 *  - the UIDL of a message never changes, across sessions, restarts and
 *    upgrades, and is never reused for another message in the same maildrop.
 *
 * \since ABI 1.0
 */
#ifndef MODPOP3D_MAILBOX_H
#define MODPOP3D_MAILBOX_H

#include <modpop3d/host.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* open() flags. Unknown bits must be ignored by modules. */
/** The session will not call commit(): open without a write lock if the
 *  store allows it (not used by the core in ABI 1.0; reserved). */
#define MODPOP3D_OPEN_READONLY 0x1u

/** msg_info flags. */
/** The message was retrieved in an earlier session (Maildir: in cur/ with S). */
#define MODPOP3D_MSG_SEEN 0x1u

/** What the core needs to know about one message. Filled by info(). */
struct modpop3d_msg_info {
    uint32_t struct_size; /**< Set by the core: sizeof in the core's build. */
    uint32_t flags;       /**< MODPOP3D_MSG_* bits. */
    uint64_t size;        /**< Exact octets as sent: CRLF line ends, no dot-stuffing. */
    const char *uidl;     /**< 1-70 chars in 0x21-0x7E; borrowed until close(). */
    int64_t received;     /**< Delivery time, seconds since the epoch (EXPIRE); 0 if unknown. */
};

/**
 * A core-owned sink that receives a message's bytes. `write` takes `len` raw
 * bytes as stored (LF or CRLF line ends, the module having already undone
 * store-specific quoting such as mbox ">From "). It returns MODPOP3D_OK to
 * ask for more, MODPOP3D_STOP when it has enough (TOP), MODPOP3D_PAUSE when
 * its buffer is full (the module returns MODPOP3D_PAUSE at once; the core
 * calls retrieve() again with the offset reached), or a negative error (the
 * client went away): the module then returns that error.
 * The sink always accepts the whole chunk it is given, whatever it returns.
 */
struct modpop3d_sink {
    uint32_t struct_size;
    void *ctx;
    int32_t (*write)(void *ctx, const void *data, size_t len);
};

/** The outcome of the session, handed to commit(). */
struct modpop3d_commit {
    uint32_t struct_size;     /**< Set by the core. */
    uint32_t count;           /**< Number of messages listed by scan(). */
    const uint8_t *deleted;   /**< count flags: 1 = DELE'd and not RSET. */
    const uint8_t *retrieved; /**< count flags: 1 = RETR'd (TOP does not count). */
};

struct modpop3d_mailbox_ops {
    uint32_t struct_size; /**< sizeof(struct modpop3d_mailbox_ops) in the module's build. */
    uint32_t reserved;    /**< Must be 0. */

    /**
     * open - open and lock the maildrop at `location` (the spec with its
     * "type:" prefix removed and $(...) already expanded). Sets *ret_mbox.
     * Returns MODPOP3D_OK, MODPOP3D_E_NOENT (does not exist: the core tries
     * the next spec), MODPOP3D_E_LOCKED ("-ERR [IN-USE]"), MODPOP3D_E_PERM
     * (wrong owner, type or permissions), MODPOP3D_E_TEMP/IO/CORRUPT.
     */
    int32_t (*open)(void *inst, struct modpop3d_session *session, const char *location,
                    uint32_t flags, void **ret_mbox);

    /**
     * scan - list the messages present at open time; later deliveries are not
     * seen in this session. Sets *ret_count; message indexes are 0..count-1
     * in a stable order (delivery time, then name).
     */
    int32_t (*scan)(void *mbox, uint32_t *ret_count);

    /** info - size, UIDL and flags of message `index`. MODPOP3D_E_INVAL for a
     *  bad index. Cheap: served from what scan() built. */
    int32_t (*info)(void *mbox, uint32_t index, struct modpop3d_msg_info *ret_info);

    /**
     * retrieve - stream message `index` into `sink`, starting `offset` bytes
     * into the message's raw (unnormalised) content. Returns MODPOP3D_OK at
     * the end or on STOP, MODPOP3D_PAUSE when the sink paused,
     * MODPOP3D_E_GONE when the message vanished, or another error. Never
     * holds the whole message in memory.
     */
    int32_t (*retrieve)(void *mbox, uint32_t index, uint64_t offset,
                        const struct modpop3d_sink *sink);

    /** commit - apply the UPDATE state (see the contract above). */
    int32_t (*commit)(void *mbox, const struct modpop3d_commit *changes);

    /** close - release the lock and everything else; deletes nothing. Always
     *  called exactly once per successful open, also after commit(). */
    void (*close)(void *mbox);

    /** keepalive - refresh locks that go stale (dotlocks); called about every
     *  minute during long sessions. Optional (NULL). */
    int32_t (*keepalive)(void *mbox);
};

#ifdef __cplusplus
}
#endif

#endif /* MODPOP3D_MAILBOX_H */
