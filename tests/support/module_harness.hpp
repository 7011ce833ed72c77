// module_harness.hpp - load one built module through the core's real loader and
// host services, so module tests exercise exactly what the daemon runs.
//
// A test gets its module's path from the MODPOP3D_MODULE_PATH environment
// variable (set by the module's meson test()). LoadedModule validates the
// settings against the module's schema, runs conf_check, instance_new and
// process_init, and tears everything down in its destructor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <modpop3d/module.h>
#include <string>
#include <utility>
#include <vector>

namespace modpop3d::testing
{

using Settings = std::vector<std::pair<std::string, std::string>>;

// One client session as modules see it: facts (user, home, client_ip, ...)
// and a memory arena. Facts may be set at any time.
class HarnessSession
{
  public:
    virtual ~HarnessSession() = default;
    virtual modpop3d_session *get() = 0;
    virtual void set(const std::string &key, const std::string &value) = 0;
};

// What an auth call returned, and what the module put in the result with
// host->result_set() ("user", "uid", "gid", "home", "mailbox", "password", ...).
struct AuthOutcome {
    int32_t status = MODPOP3D_E_INTERNAL;
    std::map<std::string, std::string> result;
};

class LoadedModule
{
  public:
    // Throws std::runtime_error carrying the core's messages (file:line) when
    // loading, schema validation, conf_check, instance_new or process_init fail.
    // `instance` names the [module/instance] id ("" for [module]).
    LoadedModule(const std::string &so_path, const Settings &settings,
                 const std::string &instance = "");
    ~LoadedModule();
    LoadedModule(const LoadedModule &) = delete;
    LoadedModule &operator=(const LoadedModule &) = delete;

    // Only validate (schema + conf_check) and return the error lines; empty
    // when the settings are accepted. Nothing is instantiated.
    static std::vector<std::string> check(const std::string &so_path, const Settings &settings,
                                          const std::string &instance = "");

    const modpop3d_module &descriptor() const;
    const modpop3d_host *host() const;
    void *instance() const;

    std::unique_ptr<HarnessSession> session(const std::map<std::string, std::string> &facts = {});

    // Auth modules.
    const modpop3d_auth_ops &auth() const;
    AuthOutcome verify_plain(HarnessSession &s, const std::string &user, const std::string &pass);
    AuthOutcome lookup_credentials(HarnessSession &s, const std::string &user,
                                   const std::string &scheme);

    // Mailbox modules.
    const modpop3d_mailbox_ops &mailbox() const;
    // retrieve_all - drive retrieve() to the end through a sink that pauses
    // every `pause_every` bytes (0: never), resuming at the offset reached.
    // Returns the raw bytes; *status gets the final status when given.
    std::string retrieve_all(void *mbox, uint32_t index, std::size_t pause_every = 0,
                             int32_t *status = nullptr);

    // Hook modules.
    const modpop3d_hook_ops &hook() const;

    // Log lines the module wrote through host->log, as the core formats them.
    std::vector<std::string> log_lines() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// module_path - MODPOP3D_MODULE_PATH, or a test failure when it is unset.
std::string module_path();

} // namespace modpop3d::testing
