// tls_setup.hpp - the TLS contexts of the configured listeners, built from
// the global tls-* keys and each listener's own options. Used by the daemon
// (before dropping privileges) and by `modpop3d -t`, so that a certificate
// that cannot be loaded is found by the check, not by the first client.
#pragma once

#include "config/core_config.hpp"
#include "net/listener.hpp"
#include "tls/context.hpp"

#include <memory>
#include <string>
#include <vector>

namespace modpop3d::daemon
{

// build_tls_context - the context for one listener (nullptr with no error
// for tls=none). False with `why` naming the listener and the file.
bool build_tls_context(const config::CoreSettings &settings, const address::ListenSpec &spec,
                       std::shared_ptr<tls::Context> &out, std::string &why,
                       std::vector<std::string> &warnings);

// check_tls - build every listener's context and throw them away.
bool check_tls(const config::CoreSettings &settings, std::string &why,
               std::vector<std::string> &warnings);

} // namespace modpop3d::daemon
