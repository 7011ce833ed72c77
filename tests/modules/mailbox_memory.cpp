// mailbox_memory.cpp - an in-memory mailbox module for the core's tests.
//
// Every location holds `count` generated messages (message i has a
// Subject naming it, a line starting with '.', LF line ends, and the last
// message has no final newline). Deletions persist for the life of the
// process, open locations are locked (a second open answers LOCKED), and a
// location starting with "missing" does not exist. Retrieval honours
// offsets and the sink's PAUSE/STOP, in small chunks, as a real store would.
#include <map>
#include <memory>
#include <modpop3d/module.hpp>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace
{

struct Instance {
    const modpop3d_host *host;
    modpop3d_ictx *ictx;
    int64_t count = 3;
    int64_t body_lines = 4;
};

struct Store {
    std::mutex mutex;
    std::map<std::string, std::set<int64_t>> deleted; // location -> deleted message ids
    std::set<std::string> locked;
};

Store &store()
{
    static Store s;
    return s;
}

struct Message {
    int64_t id;
    std::string raw;
    std::string uidl;
    uint64_t size; // CRLF size
};

struct Mailbox {
    Instance *inst;
    std::string location;
    std::vector<Message> messages;
};

std::string make_message(int64_t id, int64_t body_lines, bool last)
{
    std::string m = "From: tester@example.org\nSubject: message " + std::to_string(id) +
                    "\nMessage-ID: <" + std::to_string(id) + "@memory>\n\n";
    for (int64_t l = 0; l < body_lines; ++l)
        m += "body line " + std::to_string(l) + " of message " + std::to_string(id) + "\n";
    m += ".a line starting with a dot\n";
    m += last ? "no final newline" : "the end\n";
    return m;
}

uint64_t crlf_size(const std::string &raw)
{
    uint64_t n = 0;
    for (std::size_t i = 0; i < raw.size(); ++i)
        n += (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) ? 2 : 1;
    return n;
}

const modpop3d_conf_item schema[] = {
    {"count", MODPOP3D_CONF_INT, 0, "3", "messages in every maildrop", nullptr, 0, 100000},
    {"body-lines", MODPOP3D_CONF_INT, 0, "4", "body lines per message", nullptr, 0, 1000000},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

int32_t instance_new(const modpop3d_host *host, const modpop3d_conf *conf, modpop3d_ictx *ictx,
                     void **ret) noexcept
{
    return modpop3d::guard(host, ictx, [&] {
        auto inst = std::make_unique<Instance>();
        inst->host = host;
        inst->ictx = ictx;
        host->conf_int(conf, "count", &inst->count);
        host->conf_int(conf, "body-lines", &inst->body_lines);
        *ret = inst.release();
        return MODPOP3D_OK;
    });
}

void instance_free(void *p) noexcept
{
    delete static_cast<Instance *>(p);
}

int32_t mb_open(void *p, modpop3d_session *, const char *location, uint32_t, void **ret) noexcept
{
    auto *inst = static_cast<Instance *>(p);
    return modpop3d::guard(inst->host, inst->ictx, [&] {
        std::string loc(location);
        if (loc.rfind("missing", 0) == 0)
            return MODPOP3D_E_NOENT;
        Store &s = store();
        std::lock_guard lock(s.mutex);
        if (!s.locked.insert(loc).second)
            return MODPOP3D_E_LOCKED;
        auto mb = std::make_unique<Mailbox>();
        mb->inst = inst;
        mb->location = loc;
        for (int64_t id = 1; id <= inst->count; ++id) {
            if (s.deleted[loc].count(id) != 0)
                continue;
            Message m{id, make_message(id, inst->body_lines, id == inst->count), "", 0};
            m.uidl = "mem-" + std::to_string(id);
            m.size = crlf_size(m.raw);
            mb->messages.push_back(std::move(m));
        }
        *ret = mb.release();
        return MODPOP3D_OK;
    });
}

int32_t mb_scan(void *p, uint32_t *count) noexcept
{
    *count = static_cast<uint32_t>(static_cast<Mailbox *>(p)->messages.size());
    return MODPOP3D_OK;
}

int32_t mb_info(void *p, uint32_t index, modpop3d_msg_info *info) noexcept
{
    auto *mb = static_cast<Mailbox *>(p);
    if (index >= mb->messages.size())
        return MODPOP3D_E_INVAL;
    const Message &m = mb->messages[index];
    info->flags = 0;
    info->size = m.size;
    info->uidl = m.uidl.c_str();
    info->received = 0;
    return MODPOP3D_OK;
}

int32_t mb_retrieve(void *p, uint32_t index, uint64_t offset, const modpop3d_sink *sink) noexcept
{
    auto *mb = static_cast<Mailbox *>(p);
    if (index >= mb->messages.size())
        return MODPOP3D_E_INVAL;
    const std::string &raw = mb->messages[index].raw;
    constexpr std::size_t chunk = 7; // small on purpose: exercises chunk boundaries
    for (std::size_t at = offset; at < raw.size(); at += chunk) {
        std::size_t n = std::min(chunk, raw.size() - at);
        int32_t rc = sink->write(sink->ctx, raw.data() + at, n);
        if (rc == MODPOP3D_STOP)
            return MODPOP3D_OK;
        if (rc == MODPOP3D_PAUSE && at + n < raw.size())
            return MODPOP3D_PAUSE;
        if (rc < 0)
            return rc;
    }
    return MODPOP3D_OK;
}

int32_t mb_commit(void *p, const modpop3d_commit *changes) noexcept
{
    auto *mb = static_cast<Mailbox *>(p);
    return modpop3d::guard(mb->inst->host, mb->inst->ictx, [&] {
        Store &s = store();
        std::lock_guard lock(s.mutex);
        for (uint32_t i = 0; i < changes->count && i < mb->messages.size(); ++i)
            if (changes->deleted[i])
                s.deleted[mb->location].insert(mb->messages[i].id);
        return MODPOP3D_OK;
    });
}

void mb_close(void *p) noexcept
{
    auto *mb = static_cast<Mailbox *>(p);
    {
        Store &s = store();
        std::lock_guard lock(s.mutex);
        s.locked.erase(mb->location);
    }
    delete mb;
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
    nullptr,
};

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_MAILBOX,
    0,
    "mailbox_memory",
    "1",
    "generated in-memory maildrops (tests only)",
    schema,
    sizeof(modpop3d_conf_item),
    0,
    nullptr,
    instance_new,
    nullptr,
    instance_free,
    &ops,
};

} // namespace

MODPOP3D_MODULE_DEFINE(descriptor)
