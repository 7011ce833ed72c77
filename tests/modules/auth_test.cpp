// auth_test.cpp - a deterministic auth module for the core's tests.
//
// Users come from the `users` list ("name:password" items, plaintext); a
// name in `temp-users` answers MODPOP3D_E_TEMP (backend down), and `delay`
// makes every call slow (thread-pool tests). It exercises every host
// service an auth module uses: typed config, expand, result_set, logging.
#include <chrono>
#include <cstring>
#include <map>
#include <modpop3d/module.hpp>
#include <string>
#include <thread>

namespace
{

struct Instance {
    const modpop3d_host *host;
    modpop3d_ictx *ictx;
    std::map<std::string, std::string> users;
    std::map<std::string, bool> temp_users;
    std::string home, mailbox, uid, gid;
    int64_t delay_ms = 0;
};

const modpop3d_conf_item schema[] = {
    {"users", MODPOP3D_CONF_LIST, MODPOP3D_CONFF_REQUIRED, nullptr,
     "name:password items (plaintext; tests only)", nullptr, 0, 0},
    {"temp-users", MODPOP3D_CONF_LIST, 0, "", "names that answer 'backend down'", nullptr, 0, 0},
    {"home", MODPOP3D_CONF_TEMPLATE, 0, "/tmp/home/$(user)", "home directory template", nullptr, 0,
     0},
    {"mailbox", MODPOP3D_CONF_TEMPLATE, 0, "memory:$(user)", "mailbox spec template", nullptr, 0,
     0},
    {"uid", MODPOP3D_CONF_INT, 0, "1000", "uid of every user", nullptr, 1, 65534},
    {"gid", MODPOP3D_CONF_INT, 0, "1000", "gid of every user", nullptr, 1, 65534},
    {"delay", MODPOP3D_CONF_DURATION, 0, "0", "time every lookup takes", nullptr, 0, 60000},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

int32_t conf_check(const modpop3d_host *host, const modpop3d_conf *conf) noexcept
{
    return modpop3d::guard(host, nullptr, [&] {
        const char *item = nullptr;
        int32_t rc = MODPOP3D_OK;
        for (uint32_t i = 0; host->conf_list_item(conf, "users", i, &item) == MODPOP3D_OK; ++i)
            if (std::strchr(item, ':') == nullptr)
                rc = host->conf_error(conf, "users", "item '%s' is not name:password", item);
        return rc;
    });
}

int32_t instance_new(const modpop3d_host *host, const modpop3d_conf *conf, modpop3d_ictx *ictx,
                     void **ret) noexcept
{
    return modpop3d::guard(host, ictx, [&] {
        auto inst = std::make_unique<Instance>();
        inst->host = host;
        inst->ictx = ictx;
        const char *item = nullptr;
        for (uint32_t i = 0; host->conf_list_item(conf, "users", i, &item) == MODPOP3D_OK; ++i) {
            std::string s(item);
            auto colon = s.find(':');
            inst->users[s.substr(0, colon)] = s.substr(colon + 1);
        }
        for (uint32_t i = 0; host->conf_list_item(conf, "temp-users", i, &item) == MODPOP3D_OK; ++i)
            inst->temp_users[item] = true;
        const char *v = nullptr;
        host->conf_str(conf, "home", &v);
        inst->home = v;
        host->conf_str(conf, "mailbox", &v);
        inst->mailbox = v;
        int64_t n = 0;
        host->conf_int(conf, "uid", &n);
        inst->uid = std::to_string(n);
        host->conf_int(conf, "gid", &n);
        inst->gid = std::to_string(n);
        host->conf_int(conf, "delay", &inst->delay_ms);
        *ret = inst.release();
        return MODPOP3D_OK;
    });
}

void instance_free(void *p) noexcept
{
    delete static_cast<Instance *>(p);
}

int32_t fill_result(Instance *inst, modpop3d_session *session, const char *user,
                    modpop3d_auth_result *res)
{
    char home[512];
    size_t len = 0;
    int32_t rc =
        inst->host->expand(session, inst->home.c_str(), nullptr, nullptr, home, sizeof home, &len);
    if (rc != MODPOP3D_OK)
        return rc;
    inst->host->result_set(res, "user", user);
    inst->host->result_set(res, "uid", inst->uid.c_str());
    inst->host->result_set(res, "gid", inst->gid.c_str());
    inst->host->result_set(res, "home", home);
    inst->host->result_set(res, "mailbox", inst->mailbox.c_str());
    return MODPOP3D_OK;
}

int32_t lookup(Instance *inst, const char *user, std::string &password)
{
    if (inst->delay_ms > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(inst->delay_ms));
    if (inst->temp_users.count(user) != 0) {
        inst->host->log(inst->ictx, MODPOP3D_LOG_WARNING, "event=backend_down user=%s", user);
        return MODPOP3D_E_TEMP;
    }
    auto it = inst->users.find(user);
    if (it == inst->users.end())
        return MODPOP3D_E_NOUSER;
    password = it->second;
    return MODPOP3D_OK;
}

int32_t verify_plain(void *p, modpop3d_session *session, const char *user, const char *pass,
                     size_t pass_len, modpop3d_auth_result *res) noexcept
{
    auto *inst = static_cast<Instance *>(p);
    return modpop3d::guard(inst->host, inst->ictx, [&] {
        std::string stored;
        int32_t rc = lookup(inst, user, stored);
        if (rc != MODPOP3D_OK)
            return rc;
        if (stored.size() != pass_len ||
            !inst->host->const_time_equal(stored.data(), pass, pass_len))
            return MODPOP3D_E_BADPASS;
        return fill_result(inst, session, user, res);
    });
}

int32_t lookup_credentials(void *p, modpop3d_session *session, const char *user, const char *scheme,
                           modpop3d_auth_result *res) noexcept
{
    auto *inst = static_cast<Instance *>(p);
    return modpop3d::guard(inst->host, inst->ictx, [&] {
        if (std::strcmp(scheme, "PLAIN") != 0)
            return MODPOP3D_E_NOTSUP;
        std::string stored;
        int32_t rc = lookup(inst, user, stored);
        if (rc != MODPOP3D_OK)
            return rc;
        inst->host->result_set(res, "password", ("{PLAIN}" + stored).c_str());
        return fill_result(inst, session, user, res);
    });
}

const modpop3d_auth_ops ops = {
    sizeof(modpop3d_auth_ops),
    MODPOP3D_AUTHC_PLAIN | MODPOP3D_AUTHC_CREDENTIALS,
    verify_plain,
    lookup_credentials,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_AUTH,
    MODPOP3D_MODF_THREAD_SAFE,
    "auth_test",
    "1",
    "test users from the configuration (tests only)",
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

MODPOP3D_MODULE_DEFINE(descriptor)
