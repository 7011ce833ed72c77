// core_config.hpp - the core's own keys (the global section before any
// [module] header) and the whole configuration as the daemon uses it.
#pragma once

#include "address/cidr.hpp"
#include "address/listen_spec.hpp"
#include "config/diagnostics.hpp"
#include "config/parser.hpp"
#include "config/schema.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace modpop3d::config
{

// The typed global settings. Durations are in milliseconds.
struct CoreSettings {
    std::vector<std::string> listen;            // one entry per "listen:" line
    std::vector<address::ListenSpec> listeners; // the same, parsed and checked
    std::string module_dir;
    std::string log_target;            // stderr | syslog
    std::string log_facility = "mail"; // syslog facility (log-facility)
    int64_t max_session_time_ms = 0;   // logged-in time before a close; 0: none
    std::string log_level;
    std::string mail_user;
    std::string mail_group;
    std::string login_chroot; // "": workers are not chrooted
    std::string default_mailbox;
    int64_t timeout_preauth_ms = 0;
    int64_t lock_wait_ms = 5000; // a locked maildrop is retried this long before [IN-USE]
    int64_t timeout_idle_ms = 0;
    int64_t max_connections = 0;
    int64_t max_connections_per_ip = 0;
    int64_t max_auth_failures = 0;
    int64_t max_bad_commands = 0;
    std::size_t max_output_buffer = std::size_t{64} << 20; // unsent replies before a drop
    bool lowercase_user = false;
    std::string append_domain;
    bool strip_domain = false;
    std::string domain_separators;
    bool commit_on_early_close = false;
    bool apop = false;
    std::string implementation;
    std::string plaintext_auth;                    // tls-or-loopback | tls | always
    std::vector<std::string> sasl_mechanisms;      // enabled, upper case
    std::vector<address::Cidr> plaintext_networks; // plaintext-trusted-networks
    std::vector<address::Cidr> proxy_networks;     // proxy-trusted-networks
    // TLS (OpenSSL); listeners may override certificate, key and chain.
    std::string tls_certificate, tls_key, tls_chain;
    std::vector<std::string> tls_sni; // "HOSTNAME CERTIFICATE KEY [CHAIN]"
    std::string tls_min_version;      // 1.2 | 1.3
    std::string tls_ciphers, tls_ciphersuites;
    bool tls_session_tickets = true;
    int64_t tls_handshake_timeout_ms = 0;
    int64_t login_delay_ms = 0; // 0: no LOGIN-DELAY
    int64_t expire_days = -2;   // EXPIRE: -2 not announced, -1 never, else days
    int64_t auth_threads = 8;
    int64_t auth_timeout_ms = 30000;
    int64_t hook_timeout_ms = 10000; // hook-timeout: the LOGIN hooks' verdict
    int64_t auth_failure_delay_ms = 0;
    int64_t shutdown_timeout_ms = 0;
    int64_t auth_cache_ttl_ms = 0; // 0: no positive auth cache
    int64_t auth_cache_size = 10000;
    int64_t workers = 0;                   // worker processes; 0: "auto", one per online CPU
    int64_t worker_heap_retain = 32 << 20; // freed heap kept for reuse; 0: glibc's defaults
    std::string pid_file;                  // "": none
    std::string secret_key_file;           // secret-key-file ("": one key per start)
};

// worker_count - `workers` resolved: "auto" is the number of online CPUs,
// at most max_workers.
constexpr int64_t max_workers = 64;
int64_t worker_count(const CoreSettings &s);

const Schema &core_schema();

// The default paths compiled in (meson sets them).
std::string default_config_file();
std::string default_module_dir();

struct Configuration {
    ConfigText text;
    Effective global;
    CoreSettings core;
};

// load_configuration - parse `path` and check the global section. Module
// sections are checked by modload::ModuleSet. False when anything failed.
bool load_configuration(const std::string &path, Configuration &out, Diagnostics &diags);
// from_text - the same for text in memory (tests, the harness).
bool configuration_from_text(const std::string &text, const std::string &name, Configuration &out,
                             Diagnostics &diags);

} // namespace modpop3d::config
