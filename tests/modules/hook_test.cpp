// hook_test.cpp - a deterministic hook module for the core's tests.
//
// Every event it receives is appended as one line to `record` (a file):
// "EVENT user=... pid=N uid=N messages=N retrieved=N deleted=N", so tests
// see which process ran the hook (the auth process) and what it was told.
// Users in `veto-login` are refused at LOGIN, users in `veto-auth` at
// AUTH_OK. For users in `stall-login` the LOGIN hook takes `stall-ms`
// (a backend that hangs), logged as "STALL" lines before and after.
#include <cstdio>
#include <cstring>
#include <memory>
#include <modpop3d/module.hpp>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>

namespace
{

struct Instance {
    const modpop3d_host *host;
    modpop3d_ictx *ictx;
    std::string record;
    std::set<std::string> veto_login, veto_auth, stall_login;
    int64_t stall_ms = 0;
    std::mutex mutex;
};

const modpop3d_conf_item schema[] = {
    {"record", MODPOP3D_CONF_STRING, MODPOP3D_CONFF_REQUIRED, nullptr,
     "file every event is appended to", nullptr, 0, 0},
    {"veto-login", MODPOP3D_CONF_LIST, 0, "", "users refused at LOGIN", nullptr, 0, 0},
    {"veto-auth", MODPOP3D_CONF_LIST, 0, "", "users refused at AUTH_OK", nullptr, 0, 0},
    {"stall-login", MODPOP3D_CONF_LIST, 0, "", "users whose LOGIN hook hangs for stall-ms", nullptr,
     0, 0},
    {"stall-ms", MODPOP3D_CONF_INT, 0, "0", "how long a stalled LOGIN hook takes", nullptr, 0,
     600000},
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
        host->conf_str(conf, "record", &v);
        inst->record = v ? v : "";
        for (uint32_t i = 0; host->conf_list_item(conf, "veto-login", i, &v) == MODPOP3D_OK; ++i)
            inst->veto_login.insert(v);
        for (uint32_t i = 0; host->conf_list_item(conf, "veto-auth", i, &v) == MODPOP3D_OK; ++i)
            inst->veto_auth.insert(v);
        for (uint32_t i = 0; host->conf_list_item(conf, "stall-login", i, &v) == MODPOP3D_OK; ++i)
            inst->stall_login.insert(v);
        host->conf_int(conf, "stall-ms", &inst->stall_ms);
        *ret = inst.release();
        return MODPOP3D_OK;
    });
}

void instance_free(void *p) noexcept
{
    delete static_cast<Instance *>(p);
}

int32_t on_event(void *p, modpop3d_session *session, const modpop3d_event_info *info) noexcept
{
    auto *inst = static_cast<Instance *>(p);
    return modpop3d::guard(inst->host, inst->ictx, [&] {
        const char *user = inst->host->session_get(session, "user");
        std::string u = user ? user : "";
        const char *name = info->event == MODPOP3D_EV_AUTH_OK     ? "AUTH_OK"
                           : info->event == MODPOP3D_EV_AUTH_FAIL ? "AUTH_FAIL"
                           : info->event == MODPOP3D_EV_LOGIN     ? "LOGIN"
                                                                  : "LOGOUT";
        {
            std::lock_guard lock(inst->mutex);
            if (FILE *f = std::fopen(inst->record.c_str(), "a")) {
                std::fprintf(f, "%s user=%s pid=%d uid=%u messages=%u retrieved=%u deleted=%u\n",
                             name, u.c_str(), static_cast<int>(getpid()),
                             static_cast<unsigned>(getuid()), info->messages, info->retrieved,
                             info->deleted);
                std::fclose(f);
            }
        }
        if (info->event == MODPOP3D_EV_LOGIN && inst->stall_login.count(u)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(inst->stall_ms));
            std::lock_guard lock(inst->mutex);
            if (FILE *f = std::fopen(inst->record.c_str(), "a")) {
                std::fprintf(f, "STALL_DONE user=%s\n", u.c_str());
                std::fclose(f);
            }
        }
        if (info->event == MODPOP3D_EV_LOGIN && inst->veto_login.count(u))
            return MODPOP3D_E_PERM;
        if (info->event == MODPOP3D_EV_AUTH_OK && inst->veto_auth.count(u))
            return MODPOP3D_E_PERM;
        return MODPOP3D_OK;
    });
}

const modpop3d_hook_ops ops = {
    sizeof(modpop3d_hook_ops),
    MODPOP3D_EV_AUTH_OK | MODPOP3D_EV_AUTH_FAIL | MODPOP3D_EV_LOGIN | MODPOP3D_EV_LOGOUT,
    on_event,
};

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_HOOK,
    MODPOP3D_MODF_THREAD_SAFE,
    "hook_test",
    "1",
    "records session events to a file (tests only)",
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
