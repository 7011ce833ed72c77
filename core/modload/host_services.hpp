// host_services.hpp - the core's side of the modapi: the definitions of the
// opaque structs modules receive (configuration sections, instance handles,
// sessions, auth results) and the one service table, host_table().
//
// These structs are opaque to modules; only the core sees their members.
#pragma once

#include "config/diagnostics.hpp"
#include "config/schema.hpp"

#include <cstddef>
#include <map>
#include <memory>
#include <modpop3d/module.h>
#include <string>
#include <vector>

// One configuration section as handed to a module. Values are borrowed by
// the module until instance_free(), so they live here.
struct modpop3d_conf {
    std::string module;
    std::string instance;
    modpop3d::config::Effective effective;
    std::map<std::string, std::vector<std::string>> lists; // LIST keys, split once
    modpop3d::config::Diagnostics *diags = nullptr;        // where conf_error goes (null: the log)
    int errors = 0;                                        // conf_error calls so far

    std::string label() const { return instance.empty() ? module : module + "/" + instance; }
};

// The core's handle for one module instance.
struct modpop3d_ictx {
    std::string label; // "auth_sql/customers"
};

// One session as modules see it: facts and an arena freed with the session.
struct modpop3d_session {
    std::map<std::string, std::string, std::less<>> facts;
    std::vector<std::unique_ptr<std::max_align_t[]>> arena;

    void set(const std::string &key, std::string value) { facts[key] = std::move(value); }
    const std::string *get(std::string_view key) const
    {
        auto it = facts.find(key);
        return it == facts.end() ? nullptr : &it->second;
    }
};

// The outcome of a successful authentication, filled by result_set().
struct modpop3d_auth_result {
    std::map<std::string, std::string> values;
};

namespace modpop3d::modload
{

// host_table - the service table handed to every module.
const modpop3d_host *host_table();

// expand_for_session - the expander with a session's facts, as modules get it.
int32_t expand_for_session(const modpop3d_session &session, std::string_view tmpl,
                           modpop3d_escape_fn escape, void *escape_ctx, std::string &out,
                           std::string *error = nullptr);

} // namespace modpop3d::modload
