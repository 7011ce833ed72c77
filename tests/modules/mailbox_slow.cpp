// mailbox_slow.cpp - a thread-safe test maildrop whose open() takes
// `open-ms` for the users in `slow-users` (a maildrop of 100,000 messages on
// a cold cache, or a hung NFS server), so tests can show that opening one
// holds up no other session. Every maildrop holds one message; "OPEN_DONE
// user=U" is appended to `record` when a slow open ends. commit() deletes
// nothing.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <modpop3d/module.hpp>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace
{

constexpr char kMessage[] = "Subject: slow\r\n\r\nbody\r\n";

struct Instance {
    const modpop3d_host *host = nullptr;
    modpop3d_ictx *ictx = nullptr;
    std::set<std::string> slow;
    int64_t open_ms = 0;
    std::string record;
    std::mutex mutex; // record appends
};

const modpop3d_conf_item schema[] = {
    {"slow-users", MODPOP3D_CONF_LIST, 0, "", "users whose open() takes open-ms", nullptr, 0, 0},
    {"open-ms", MODPOP3D_CONF_INT, 0, "0", "how long a slow open() takes", nullptr, 0, 600000},
    {"record", MODPOP3D_CONF_STRING, MODPOP3D_CONFF_REQUIRED, nullptr,
     "file the end of each slow open is appended to", nullptr, 0, 0},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

int32_t instance_new(const modpop3d_host *host, const modpop3d_conf *conf, modpop3d_ictx *ictx,
                     void **ret) noexcept
{
    return modpop3d::guard(host, ictx, [&] {
        auto inst = std::make_unique<Instance>();
        inst->host = host;
        inst->ictx = ictx;
        const char *v = nullptr;
        for (uint32_t i = 0; host->conf_list_item(conf, "slow-users", i, &v) == MODPOP3D_OK; ++i)
            inst->slow.insert(v);
        host->conf_int(conf, "open-ms", &inst->open_ms);
        host->conf_str(conf, "record", &v);
        inst->record = v ? v : "";
        *ret = inst.release();
        return MODPOP3D_OK;
    });
}

void instance_free(void *p) noexcept
{
    delete static_cast<Instance *>(p);
}

int32_t mb_open(void *p, modpop3d_session *session, const char * /*location*/, uint32_t /*flags*/,
                void **ret_mbox) noexcept
{
    auto *inst = static_cast<Instance *>(p);
    return modpop3d::guard(inst->host, inst->ictx, [&] {
        const char *u = inst->host->session_get(session, "user");
        const std::string user = u ? u : "";
        if (inst->slow.count(user)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(inst->open_ms));
            std::lock_guard lock(inst->mutex);
            if (FILE *f = std::fopen(inst->record.c_str(), "a")) {
                std::fprintf(f, "OPEN_DONE user=%s\n", user.c_str());
                std::fclose(f);
            }
        }
        *ret_mbox = inst;
        return MODPOP3D_OK;
    });
}

int32_t mb_scan(void * /*mbox*/, uint32_t *ret_count) noexcept
{
    *ret_count = 1;
    return MODPOP3D_OK;
}

int32_t mb_info(void * /*mbox*/, uint32_t index, modpop3d_msg_info *ret) noexcept
{
    if (index != 0)
        return MODPOP3D_E_INVAL;
    ret->size = sizeof kMessage - 1;
    ret->uidl = "slow-1";
    return MODPOP3D_OK;
}

int32_t mb_retrieve(void * /*mbox*/, uint32_t index, uint64_t offset,
                    const modpop3d_sink *sink) noexcept
{
    if (index != 0 || offset > sizeof kMessage - 1)
        return MODPOP3D_E_INVAL;
    int32_t rc = sink->write(sink->ctx, kMessage + offset, sizeof kMessage - 1 - offset);
    return rc == MODPOP3D_STOP ? MODPOP3D_OK : rc;
}

int32_t mb_commit(void * /*mbox*/, const modpop3d_commit * /*changes*/) noexcept
{
    return MODPOP3D_OK;
}

void mb_close(void * /*mbox*/) noexcept {}

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
    MODPOP3D_MODF_THREAD_SAFE,
    "mailbox_slow",
    "1",
    "a maildrop whose open takes long for chosen users (tests only)",
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
