// mailbox_mbox.cpp - the module descriptor, configuration schema and the
// mailbox ops table of mailbox_mbox (tpop3d's "bsd:" driver). The work is in
// mbox.cpp; this file only translates between the C ABI and it.
#include "mbox.hpp"

#include <cstring>
#include <memory>
#include <modpop3d/module.hpp>
#include <string>

namespace
{

const modpop3d_conf_item schema[] = {
    {"format", MODPOP3D_CONF_ENUM, 0, "mboxo",
     "How the MDA quotes body lines starting with From: mboxo (only \">From \" is unquoted) or "
     "mboxrd (one '>' is removed from \">>*From \").",
     "mboxo|mboxrd", 0, 0},
    {"locking", MODPOP3D_CONF_LIST, 0, "dotlock fcntl",
     "The locks to take, in this order, the same set and order as the MDA: dotlock, fcntl, "
     "flock.",
     nullptr, 0, 0},
    {"lock-timeout", MODPOP3D_CONF_DURATION, 0, "10s",
     "Obsolete and ignored: the module never waits for a lock; the core's lock-wait says how "
     "long a login waits. Accepted so that old configurations still load.",
     nullptr, 0, 600000},
    {"dotlock-stale", MODPOP3D_CONF_DURATION, 0, "10m",
     "A dotlock whose owner cannot be checked (another host's, or an MDA's without an owner "
     "record) not touched for this long is removed (0: never). A dotlock of a dead modpop3d "
     "session on this host is removed at once.",
     nullptr, 0, 86400000},
    {"uidl-style", MODPOP3D_CONF_ENUM, 0, "modpop3d",
     "modpop3d: MD5 of the From_ line, the headers and the body length; tpop3d: MD5 of the "
     "first 512 bytes, as tpop3d computed it.",
     "modpop3d|tpop3d", 0, 0},
    {"index", MODPOP3D_CONF_BOOL, 0, "yes",
     "Keep an index cache of offsets, sizes and UIDLs so big mailboxes open fast.", nullptr, 0, 0},
    {"index-dir", MODPOP3D_CONF_TEMPLATE, 0, nullptr,
     "Directory for index caches ($(user) and $(home) allowed); unset: next to the mbox as "
     ".NAME.modpop3d-index.",
     nullptr, 0, 0},
    {"hide-cclient", MODPOP3D_CONF_BOOL, 0, "yes",
     "Hide (and keep) the c-client \"DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\" "
     "first message.",
     nullptr, 0, 0},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

struct Instance {
    const modpop3d_host *host;
    modpop3d_ictx *ictx;
    mbox::Config cfg;
    std::string index_dir; // template, "" = next to the mbox
};

struct Handle {
    Instance *inst;
    std::unique_ptr<mbox::Mailbox> mb;
};

int32_t parse_locks(const modpop3d_host *host, const modpop3d_conf *conf,
                    std::vector<mbox::LockKind> &out, bool report)
{
    out.clear();
    const char *item = nullptr;
    for (uint32_t i = 0; host->conf_list_item(conf, "locking", i, &item) == MODPOP3D_OK; ++i) {
        std::string w(item);
        mbox::LockKind k;
        if (w == "dotlock")
            k = mbox::LockKind::dotlock;
        else if (w == "fcntl")
            k = mbox::LockKind::fcntl;
        else if (w == "flock")
            k = mbox::LockKind::flock;
        else
            return report ? host->conf_error(conf, "locking",
                                             "unknown lock '%s' (dotlock, fcntl or flock)", item)
                          : MODPOP3D_E_CONFIG;
        for (auto have : out)
            if (have == k)
                return report ? host->conf_error(conf, "locking", "'%s' is listed twice", item)
                              : MODPOP3D_E_CONFIG;
        out.push_back(k);
    }
    return MODPOP3D_OK;
}

int32_t conf_check(const modpop3d_host *host, const modpop3d_conf *conf) noexcept
{
    return modpop3d::guard(host, nullptr, [&]() -> int32_t {
        std::vector<mbox::LockKind> locks;
        if (parse_locks(host, conf, locks, true) != MODPOP3D_OK)
            return MODPOP3D_E_CONFIG;
        if (locks.empty())
            host->log(nullptr, MODPOP3D_LOG_WARNING,
                      "event=config_warning key=locking text=\"no locks: mail can be lost when "
                      "the MDA delivers during a session\"");
        else if (locks.front() != mbox::LockKind::dotlock)
            host->log(nullptr, MODPOP3D_LOG_WARNING,
                      "event=config_warning key=locking text=\"commit replaces the file; it is "
                      "only safe when every writer takes the dotlock first\"");
        int64_t timeout = 0;
        if (host->conf_int(conf, "lock-timeout", &timeout) == MODPOP3D_OK && timeout != 10000)
            host->log(nullptr, MODPOP3D_LOG_WARNING,
                      "event=config_warning key=lock-timeout text=\"ignored: the module no "
                      "longer waits for locks; set the core's lock-wait instead\"");
        return MODPOP3D_OK;
    });
}

int32_t instance_new(const modpop3d_host *host, const modpop3d_conf *conf, modpop3d_ictx *ictx,
                     void **ret_inst) noexcept
{
    return modpop3d::guard(host, ictx, [&]() -> int32_t {
        auto inst = std::make_unique<Instance>();
        inst->host = host;
        inst->ictx = ictx;
        const char *s = nullptr;
        if (host->conf_str(conf, "format", &s) == MODPOP3D_OK && std::strcmp(s, "mboxrd") == 0)
            inst->cfg.format = mbox::Format::mboxrd;
        if (host->conf_str(conf, "uidl-style", &s) == MODPOP3D_OK && std::strcmp(s, "tpop3d") == 0)
            inst->cfg.uidl = mbox::UidlStyle::tpop3d;
        if (parse_locks(host, conf, inst->cfg.locks.order, true) != MODPOP3D_OK)
            return MODPOP3D_E_CONFIG;
        int64_t v = 0;
        if (host->conf_int(conf, "dotlock-stale", &v) == MODPOP3D_OK)
            inst->cfg.locks.stale_ms = static_cast<uint64_t>(v);
        int32_t b = 1;
        if (host->conf_bool(conf, "index", &b) == MODPOP3D_OK)
            inst->cfg.index = b != 0;
        if (host->conf_bool(conf, "hide-cclient", &b) == MODPOP3D_OK)
            inst->cfg.hide_cclient = b != 0;
        if (host->conf_str(conf, "index-dir", &s) == MODPOP3D_OK && s != nullptr)
            inst->index_dir = s;
        *ret_inst = inst.release();
        return MODPOP3D_OK;
    });
}

void instance_free(void *inst) noexcept
{
    delete static_cast<Instance *>(inst);
}

// index_path - where the cache of `path` lives, or "" when it cannot be said.
std::string index_path(Instance *inst, modpop3d_session *session, const std::string &path)
{
    if (!inst->cfg.index)
        return {};
    if (inst->index_dir.empty()) {
        auto slash = path.rfind('/');
        return path.substr(0, slash + 1) + "." + path.substr(slash + 1) + ".modpop3d-index";
    }
    std::string dir(256, '\0');
    size_t need = 0;
    int32_t rc = inst->host->expand(session, inst->index_dir.c_str(), nullptr, nullptr, dir.data(),
                                    dir.size(), &need);
    if (rc == MODPOP3D_E_NOMEM && need > dir.size() && need < 65536) {
        dir.assign(need + 1, '\0');
        rc = inst->host->expand(session, inst->index_dir.c_str(), nullptr, nullptr, dir.data(),
                                dir.size(), &need);
    }
    if (rc != MODPOP3D_OK) {
        inst->host->log(inst->ictx, MODPOP3D_LOG_WARNING,
                        "event=index_dir_unusable text=\"cannot expand index-dir\"");
        return {};
    }
    dir.resize(std::strlen(dir.c_str()));
    // One directory may serve many mailboxes: name the cache after the
    // whole path, with '/' and '%' escaped.
    std::string name;
    for (char c : path) {
        if (c == '/')
            name += "%2F";
        else if (c == '%')
            name += "%25";
        else
            name += c;
    }
    return dir + "/" + name + ".modpop3d-index";
}

int32_t mb_open(void *vinst, modpop3d_session *session, const char *location, uint32_t,
                void **ret_mbox) noexcept
{
    auto *inst = static_cast<Instance *>(vinst);
    return modpop3d::guard(inst->host, inst->ictx, [&]() -> int32_t {
        if (location == nullptr || location[0] != '/') {
            inst->host->log(inst->ictx, MODPOP3D_LOG_ERR,
                            "event=open_failed text=\"mbox location must be an absolute path\"");
            return MODPOP3D_E_PERM;
        }
        std::string path(location);
        auto h = std::make_unique<Handle>();
        h->inst = inst;
        auto log = [inst](int level, const std::string &msg) {
            inst->host->log(inst->ictx, level, "%s", msg.c_str());
        };
        int32_t rc =
            mbox::Mailbox::open(inst->cfg, path, index_path(inst, session, path), log, h->mb);
        if (rc != MODPOP3D_OK)
            return rc;
        *ret_mbox = h.release();
        return MODPOP3D_OK;
    });
}

int32_t mb_scan(void *vmb, uint32_t *ret_count) noexcept
{
    auto *h = static_cast<Handle *>(vmb);
    return modpop3d::guard(h->inst->host, h->inst->ictx,
                           [&]() -> int32_t { return h->mb->scan(ret_count); });
}

int32_t mb_info(void *vmb, uint32_t index, modpop3d_msg_info *ret) noexcept
{
    auto *h = static_cast<Handle *>(vmb);
    return modpop3d::guard(h->inst->host, h->inst->ictx,
                           [&]() -> int32_t { return h->mb->info(index, ret); });
}

int32_t mb_retrieve(void *vmb, uint32_t index, uint64_t offset, const modpop3d_sink *sink) noexcept
{
    auto *h = static_cast<Handle *>(vmb);
    return modpop3d::guard(h->inst->host, h->inst->ictx,
                           [&]() -> int32_t { return h->mb->retrieve(index, offset, sink); });
}

int32_t mb_commit(void *vmb, const modpop3d_commit *changes) noexcept
{
    auto *h = static_cast<Handle *>(vmb);
    return modpop3d::guard(h->inst->host, h->inst->ictx,
                           [&]() -> int32_t { return h->mb->commit(changes); });
}

void mb_close(void *vmb) noexcept
{
    auto *h = static_cast<Handle *>(vmb);
    if (h == nullptr)
        return;
    modpop3d::guard_void(h->inst->host, h->inst->ictx, [&] { delete h; });
}

int32_t mb_keepalive(void *vmb) noexcept
{
    auto *h = static_cast<Handle *>(vmb);
    return modpop3d::guard(h->inst->host, h->inst->ictx,
                           [&]() -> int32_t { return h->mb->keepalive(); });
}

const modpop3d_mailbox_ops ops = {
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

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_MAILBOX,
    0,
    "mailbox_mbox",
    "0.1.0",
    "BSD mbox spools with the MDA's locks and crash-safe UPDATE (tpop3d bsd:)",
    schema,
    sizeof(modpop3d_conf_item),
    0,
    conf_check,
    instance_new,
    nullptr,
    instance_free,
    &ops,
};

} // namespace

// The macro defines the entry point without a prior declaration, which
// -Wmissing-declarations rejects in C++: declare it first.
extern "C" MODPOP3D_EXPORT const struct modpop3d_module *modpop3d_module_entry(void) noexcept;
MODPOP3D_MODULE_DEFINE(descriptor)
