// mailbox_maildir.cpp - the module descriptor, configuration schema and ABI
// glue of mailbox_maildir. The work is done by Maildir (maildir.hpp).
#include "maildir.hpp"
#include "options.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <modpop3d/module.hpp>
#include <new>

namespace mailbox_maildir
{
namespace
{

struct Instance {
    const modpop3d_host *host = nullptr;
    modpop3d_ictx *ictx = nullptr;
    Options opt;
};

// Keep in sync with conf.d/20-mailbox_maildir.conf and man/modpop3d-mailbox_maildir.8.
const modpop3d_conf_item kSchema[] = {
    {"uidl-format", MODPOP3D_CONF_ENUM, 0, "basename",
     "How UIDLs are made from message file names: basename (the name before ':', as "
     "qmail-pop3d), tpop3d (hex MD5 of that name, as tpop3d's maildir driver) or dovecot "
     "(Dovecot's default UIDL from dovecot-uidlist, else basename).",
     "basename|tpop3d|dovecot", 0, 0},
    {"exclusive-lock", MODPOP3D_CONF_BOOL, 0, "yes",
     "Allow one POP3 session per maildir at a time, using an NFS-safe lock file in the maildir "
     "(no: sessions share the maildir, and two sessions of one user can both download a "
     "message).",
     nullptr, 0, 0},
    {"lock-stale-age", MODPOP3D_CONF_DURATION, 0, "30m",
     "A session lock whose owner cannot be checked (another host's, or one without an owner "
     "record) not refreshed for this long is broken; a dead session's lock on this host is "
     "broken at once.",
     nullptr, 60000, 86400000},
    {"size-cache", MODPOP3D_CONF_BOOL, 0, "yes",
     "Keep exact POP3 sizes in the file modpop3d-cache in the maildir, so that later logins "
     "read no message bodies.",
     nullptr, 0, 0},
    {"trust-w-size", MODPOP3D_CONF_BOOL, 0, "yes",
     "Take the POP3 size from a ,W=<size> field in the file name (written by Dovecot) instead "
     "of reading the message.",
     nullptr, 0, 0},
    {"mark-seen", MODPOP3D_CONF_BOOL, 0, "yes",
     "At QUIT move retrieved messages from new/ to cur/ and give them the S (seen) flag.", nullptr,
     0, 0},
    {"tmp-cleanup", MODPOP3D_CONF_BOOL, 0, "yes",
     "At login remove files in tmp/ neither accessed nor modified for tmp-max-age.", nullptr, 0, 0},
    {"tmp-max-age", MODPOP3D_CONF_DURATION, 0, "36h",
     "Age after which tmp-cleanup removes a file from tmp/ (maildir(5) says 36 hours).", nullptr,
     3600000, 2592000000},
    {"max-messages", MODPOP3D_CONF_INT, 0, "1000000",
     "List at most this many messages in one session, to bound memory on a hostile maildir.",
     nullptr, 1, 4294967295},
    {"refuse-hard-links", MODPOP3D_CONF_BOOL, 0, "no",
     "Skip message files with more than one hard link (Dovecot and other MDAs link one message "
     "into several maildirs, so this is off by default).",
     nullptr, 0, 0},
    {"size-threads", MODPOP3D_CONF_INT, 0, "4",
     "Threads that read message files to count their sizes when a listing has many to count "
     "(a first login, or one after many deliveries); 1 counts in the session's own thread only.",
     nullptr, 1, 64},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

bool read_bool(const modpop3d_host *host, const modpop3d_conf *conf, const char *key, bool &out)
{
    int32_t v = 0;
    if (host->conf_bool(conf, key, &v) != MODPOP3D_OK)
        return false;
    out = v != 0;
    return true;
}

bool read_int(const modpop3d_host *host, const modpop3d_conf *conf, const char *key, int64_t &out)
{
    return host->conf_int(conf, key, &out) == MODPOP3D_OK;
}

int32_t parse_options(const modpop3d_host *host, const modpop3d_conf *conf, Options &o)
{
    const char *fmt = nullptr;
    if (host->conf_str(conf, "uidl-format", &fmt) != MODPOP3D_OK || fmt == nullptr)
        return host->conf_error(conf, "uidl-format", "cannot read the value");
    if (std::strcmp(fmt, "basename") == 0)
        o.uidl_format = UidlFormat::basename;
    else if (std::strcmp(fmt, "tpop3d") == 0)
        o.uidl_format = UidlFormat::tpop3d;
    else if (std::strcmp(fmt, "dovecot") == 0)
        o.uidl_format = UidlFormat::dovecot;
    else
        return host->conf_error(conf, "uidl-format",
                                "must be basename, tpop3d or dovecot, not '%s'", fmt);
    int64_t stale_ms = 0, tmp_ms = 0, max_msgs = 0, size_threads = 1;
    if (!read_bool(host, conf, "exclusive-lock", o.exclusive_lock) ||
        !read_int(host, conf, "lock-stale-age", stale_ms) ||
        !read_bool(host, conf, "size-cache", o.size_cache) ||
        !read_bool(host, conf, "trust-w-size", o.trust_w_size) ||
        !read_bool(host, conf, "mark-seen", o.mark_seen) ||
        !read_bool(host, conf, "tmp-cleanup", o.tmp_cleanup) ||
        !read_int(host, conf, "tmp-max-age", tmp_ms) ||
        !read_int(host, conf, "max-messages", max_msgs) ||
        !read_bool(host, conf, "refuse-hard-links", o.refuse_hard_links) ||
        !read_int(host, conf, "size-threads", size_threads))
        return host->conf_error(conf, nullptr, "cannot read the section's values");
    o.lock_stale_sec = stale_ms / 1000;
    o.tmp_max_age_sec = tmp_ms / 1000;
    o.max_messages = max_msgs > 0 ? uint64_t(max_msgs) : 1;
    o.size_threads = uint32_t(std::clamp<int64_t>(size_threads, 1, 64));
    return MODPOP3D_OK;
}

int32_t conf_check(const modpop3d_host *host, const modpop3d_conf *conf) noexcept
{
    return modpop3d::guard(host, nullptr, [&] {
        Options o;
        return parse_options(host, conf, o);
    });
}

int32_t instance_new(const modpop3d_host *host, const modpop3d_conf *conf, modpop3d_ictx *ictx,
                     void **ret_inst) noexcept
{
    return modpop3d::guard(host, ictx, [&] {
        auto inst = std::make_unique<Instance>();
        inst->host = host;
        inst->ictx = ictx;
        int32_t st = parse_options(host, conf, inst->opt);
        if (st != MODPOP3D_OK)
            return st;
        *ret_inst = inst.release();
        return MODPOP3D_OK;
    });
}

void instance_free(void *p) noexcept
{
    delete static_cast<Instance *>(p);
}

int32_t mb_open(void *p, modpop3d_session * /*session*/, const char *location, uint32_t /*flags*/,
                void **ret_mbox) noexcept
{
    auto *inst = static_cast<Instance *>(p);
    return modpop3d::guard(inst->host, inst->ictx, [&] {
        auto md = std::make_unique<Maildir>(inst->host, inst->ictx, inst->opt);
        int32_t st = md->open(location);
        if (st != MODPOP3D_OK)
            return st;
        *ret_mbox = md.release();
        return MODPOP3D_OK;
    });
}

int32_t mb_scan(void *mbox, uint32_t *ret_count) noexcept
{
    auto *md = static_cast<Maildir *>(mbox);
    return modpop3d::guard(md->host(), md->ictx(), [&] { return md->scan(ret_count); });
}

int32_t mb_info(void *mbox, uint32_t index, modpop3d_msg_info *ret_info) noexcept
{
    auto *md = static_cast<Maildir *>(mbox);
    return modpop3d::guard(md->host(), md->ictx(), [&] { return md->info(index, ret_info); });
}

int32_t mb_retrieve(void *mbox, uint32_t index, uint64_t offset, const modpop3d_sink *sink) noexcept
{
    auto *md = static_cast<Maildir *>(mbox);
    return modpop3d::guard(md->host(), md->ictx(),
                           [&] { return md->retrieve(index, offset, sink); });
}

int32_t mb_commit(void *mbox, const modpop3d_commit *changes) noexcept
{
    auto *md = static_cast<Maildir *>(mbox);
    return modpop3d::guard(md->host(), md->ictx(), [&] { return md->commit(changes); });
}

void mb_close(void *mbox) noexcept
{
    auto *md = static_cast<Maildir *>(mbox);
    modpop3d::guard_void(md->host(), md->ictx(), [&] { delete md; });
}

int32_t mb_keepalive(void *mbox) noexcept
{
    auto *md = static_cast<Maildir *>(mbox);
    return modpop3d::guard(md->host(), md->ictx(), [&] { return md->keepalive(); });
}

const modpop3d_mailbox_ops kOps = {
    sizeof(modpop3d_mailbox_ops),
    0,
    mb_open,
    mb_scan,
    mb_info,
    mb_retrieve,
    mb_commit,
    mb_close,
    mb_keepalive,
};

const modpop3d_module kModule = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_MAILBOX,
    MODPOP3D_MODF_THREAD_SAFE,
    "mailbox_maildir",
    "0.1.0",
    "Maildir and Maildir++ maildrops with exact cached sizes and stable UIDLs",
    kSchema,
    sizeof(modpop3d_conf_item),
    0,
    conf_check,
    instance_new,
    nullptr,
    instance_free,
    &kOps,
};

} // namespace
} // namespace mailbox_maildir

// The C++ form of MODPOP3D_MODULE_DEFINE has no prior declaration, which
// -Wmissing-declarations rejects; declare the entry point first.
extern "C" MODPOP3D_EXPORT const struct modpop3d_module *modpop3d_module_entry(void) noexcept;
MODPOP3D_MODULE_DEFINE(mailbox_maildir::kModule)
