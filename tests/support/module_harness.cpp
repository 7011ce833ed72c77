// module_harness.cpp - LoadedModule on top of the core's loader, module set
// and host services (see module_harness.hpp).
#include "module_harness.hpp"

#include "config/parser.hpp"
#include "modload/host_services.hpp"
#include "modload/loader.hpp"
#include "modload/module_set.hpp"
#include "util/log.hpp"

#include <cstdlib>
#include <gtest/gtest.h>
#include <mutex>
#include <stdexcept>

namespace modpop3d::testing
{

namespace
{

// All module log lines since the first harness was built; the core logger
// has one sink, so the capture is process-wide.
struct LogCapture {
    std::mutex mutex;
    std::vector<std::string> lines;
};

LogCapture &capture()
{
    static LogCapture c;
    static std::once_flag once;
    std::call_once(once, [] {
        log::set_sink([](int, const std::string &line) {
            std::lock_guard lock(c.mutex);
            c.lines.push_back(line);
        });
    });
    return c;
}

config::Section make_section(const std::string &module, const std::string &instance,
                             const Settings &settings)
{
    config::Section s;
    s.module = module;
    s.instance = instance;
    s.where = config::Location{"<test>", 1};
    int line = 2;
    for (const auto &[k, v] : settings)
        s.entries.push_back(config::Entry{k, v, config::Location{"<test>", line++}});
    return s;
}

std::string join(const std::vector<std::string> &lines)
{
    std::string out;
    for (const auto &l : lines)
        out += l + "\n";
    return out;
}

class Session final : public HarnessSession
{
  public:
    modpop3d_session *get() override { return &s_; }
    void set(const std::string &key, const std::string &value) override { s_.set(key, value); }

  private:
    modpop3d_session s_;
};

struct Collector {
    std::string data;
    std::size_t pause_every = 0;
    std::size_t since_resume = 0;
};

int32_t collect(void *ctx, const void *data, size_t len) noexcept
{
    auto *c = static_cast<Collector *>(ctx);
    c->data.append(static_cast<const char *>(data), len);
    c->since_resume += len;
    if (c->pause_every != 0 && c->since_resume >= c->pause_every)
        return MODPOP3D_PAUSE;
    return MODPOP3D_OK;
}

} // namespace

struct LoadedModule::Impl {
    modload::Loader loader{"/nonexistent"};
    const modload::ModuleInfo *module = nullptr;
    config::Section section;
    modload::ModuleSet set;
    modload::Instance *instance = nullptr;
};

LoadedModule::LoadedModule(const std::string &so_path, const Settings &settings,
                           const std::string &instance)
    : impl_(std::make_unique<Impl>())
{
    capture();
    std::string error;
    impl_->module = impl_->loader.load_path(so_path, error);
    if (impl_->module == nullptr)
        throw std::runtime_error(error);
    impl_->section = make_section(impl_->module->name, instance, settings);
    config::Diagnostics diags;
    if (!impl_->set.add_section(impl_->section, *impl_->module, diags) ||
        !impl_->set.instantiate(diags) || !impl_->set.process_init(diags))
        throw std::runtime_error(join(diags.lines()));
    impl_->instance = impl_->set.all().front().get();
}

LoadedModule::~LoadedModule() = default;

std::vector<std::string> LoadedModule::check(const std::string &so_path, const Settings &settings,
                                             const std::string &instance)
{
    capture();
    modload::Loader loader("/nonexistent");
    std::string error;
    const modload::ModuleInfo *m = loader.load_path(so_path, error);
    if (m == nullptr)
        return {error};
    config::Section section = make_section(m->name, instance, settings);
    config::Diagnostics diags;
    modload::ModuleSet set;
    set.add_section(section, *m, diags);
    return diags.lines();
}

const modpop3d_module &LoadedModule::descriptor() const
{
    return *impl_->module->desc;
}
const modpop3d_host *LoadedModule::host() const
{
    return modload::host_table();
}
void *LoadedModule::instance() const
{
    return impl_->instance->inst;
}

std::unique_ptr<HarnessSession>
LoadedModule::session(const std::map<std::string, std::string> &facts)
{
    auto s = std::make_unique<Session>();
    for (const auto &[k, v] : facts)
        s->set(k, v);
    return s;
}

const modpop3d_auth_ops &LoadedModule::auth() const
{
    if (descriptor().kind != MODPOP3D_KIND_AUTH)
        throw std::logic_error("not an auth module");
    return *static_cast<const modpop3d_auth_ops *>(descriptor().ops);
}

AuthOutcome LoadedModule::verify_plain(HarnessSession &s, const std::string &user,
                                       const std::string &pass)
{
    modpop3d_auth_result res;
    AuthOutcome out;
    out.status =
        auth().verify_plain(instance(), s.get(), user.c_str(), pass.data(), pass.size(), &res);
    out.result = res.values;
    return out;
}

AuthOutcome LoadedModule::lookup_credentials(HarnessSession &s, const std::string &user,
                                             const std::string &scheme)
{
    modpop3d_auth_result res;
    AuthOutcome out;
    if (auth().lookup_credentials == nullptr) {
        out.status = MODPOP3D_E_NOTSUP;
        return out;
    }
    out.status = auth().lookup_credentials(instance(), s.get(), user.c_str(), scheme.c_str(), &res);
    out.result = res.values;
    return out;
}

const modpop3d_mailbox_ops &LoadedModule::mailbox() const
{
    if (descriptor().kind != MODPOP3D_KIND_MAILBOX)
        throw std::logic_error("not a mailbox module");
    return *static_cast<const modpop3d_mailbox_ops *>(descriptor().ops);
}

std::string LoadedModule::retrieve_all(void *mbox, uint32_t index, std::size_t pause_every,
                                       int32_t *status)
{
    Collector c;
    c.pause_every = pause_every;
    modpop3d_sink sink{sizeof(modpop3d_sink), &c, collect};
    int32_t rc = MODPOP3D_E_INTERNAL;
    for (;;) {
        std::size_t before = c.data.size();
        c.since_resume = 0;
        rc = mailbox().retrieve(mbox, index, c.data.size(), &sink);
        if (rc != MODPOP3D_PAUSE)
            break;
        if (c.data.size() == before) { // paused without progress: a module bug
            rc = MODPOP3D_E_INTERNAL;
            ADD_FAILURE() << "retrieve() returned PAUSE without delivering a byte";
            break;
        }
    }
    if (status != nullptr)
        *status = rc;
    return c.data;
}

const modpop3d_hook_ops &LoadedModule::hook() const
{
    if (descriptor().kind != MODPOP3D_KIND_HOOK)
        throw std::logic_error("not a hook module");
    return *static_cast<const modpop3d_hook_ops *>(descriptor().ops);
}

std::vector<std::string> LoadedModule::log_lines() const
{
    LogCapture &c = capture();
    std::lock_guard lock(c.mutex);
    std::vector<std::string> out;
    std::string tag = "module=" + impl_->instance->label();
    for (const auto &l : c.lines)
        if (l.find(tag) != std::string::npos)
            out.push_back(l);
    return out;
}

std::string module_path()
{
    const char *p = std::getenv("MODPOP3D_MODULE_PATH");
    if (p == nullptr || *p == '\0') {
        ADD_FAILURE() << "MODPOP3D_MODULE_PATH is not set (run the test through meson test)";
        return "";
    }
    return p;
}

} // namespace modpop3d::testing
