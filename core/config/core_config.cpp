// core_config.cpp - the core's configuration keys and their typed reading.
//
// The table below is the single source of truth for the global keys: it
// drives checking, `modpop3d -n`, `modpop3d -M core` and modpop3d.conf(5).
#include "config/core_config.hpp"

#include "config/chroot_dir.hpp"
#include "util/ascii.hpp"
#include "util/words.hpp"

#include <cstdlib>
#include <modpop3d/module.h>
#include <unistd.h>

namespace modpop3d::config
{

namespace
{

KeySpec key(std::string name, uint32_t type, std::optional<std::string> def, std::string help,
            int64_t min = 0, int64_t max = 0, std::string choices = "", uint32_t flags = 0)
{
    KeySpec k;
    k.key = std::move(name);
    k.type = type;
    k.default_value = std::move(def);
    k.help = std::move(help);
    k.min = min;
    k.max = max;
    k.choices = std::move(choices);
    k.flags = flags;
    return k;
}

void read_settings(const Effective &e, CoreSettings &c)
{
    auto str = [&](const char *k) {
        auto *v = e.get(k);
        return v ? *v : std::string();
    };
    auto num = [&](const char *k) {
        auto it = e.numbers.find(k);
        return it == e.numbers.end() ? int64_t{0} : it->second;
    };
    c.listen.clear();
    if (e.section != nullptr)
        for (const auto &entry : e.section->entries)
            if (entry.key == "listen")
                c.listen.push_back(entry.value);
    if (c.listen.empty())
        c.listen.push_back(str("listen"));
    c.module_dir = str("module-dir");
    c.log_target = str("log-target");
    c.log_facility = str("log-facility");
    c.max_session_time_ms = num("max-session-time");
    c.log_level = str("log-level");
    c.mail_user = str("mail-user");
    c.mail_group = str("mail-group");
    c.login_chroot = str("login-chroot");
    c.default_mailbox = str("default-mailbox");
    c.timeout_preauth_ms = num("timeout-preauth");
    c.lock_wait_ms = num("lock-wait");
    c.timeout_idle_ms = num("timeout-idle");
    c.max_connections = num("max-connections");
    c.max_connections_per_ip = num("max-connections-per-ip");
    c.max_auth_failures = num("max-auth-failures");
    c.max_bad_commands = num("max-bad-commands");
    c.max_output_buffer = static_cast<std::size_t>(num("max-output-buffer"));
    c.lowercase_user = num("lowercase-user") != 0;
    c.append_domain = str("append-domain");
    c.strip_domain = num("strip-domain") != 0;
    c.domain_separators = str("domain-separators");
    c.commit_on_early_close = num("commit-on-early-close") != 0;
    c.apop = num("apop") != 0;
    c.implementation = str("implementation");
    c.plaintext_auth = str("plaintext-auth");
    c.sasl_mechanisms = util::split_words(str("sasl-mechanisms"), " ,\t");
    for (std::string &word : c.sasl_mechanisms)
        word = util::ascii_upper(word);
    c.tls_certificate = str("tls-certificate");
    c.tls_key = str("tls-key");
    c.tls_chain = str("tls-chain");
    c.tls_sni.clear();
    if (e.section != nullptr)
        for (const auto &entry : e.section->entries)
            if (entry.key == "tls-sni")
                c.tls_sni.push_back(entry.value);
    c.tls_min_version = str("tls-min-version");
    c.tls_ciphers = str("tls-ciphers");
    c.tls_ciphersuites = str("tls-ciphersuites");
    c.tls_session_tickets = num("tls-session-tickets") != 0;
    c.tls_handshake_timeout_ms = num("tls-handshake-timeout");
    c.login_delay_ms = num("login-delay");
    c.expire_days = -2;
    if (const std::string ex = str("expire"); ex == "never")
        c.expire_days = -1;
    else if (!ex.empty() && ex.size() <= 5 &&
             ex.find_first_not_of("0123456789") == std::string::npos)
        c.expire_days = std::stoll(ex);
    c.auth_threads = num("auth-threads");
    c.auth_timeout_ms = num("auth-timeout");
    c.hook_timeout_ms = num("hook-timeout");
    c.auth_failure_delay_ms = num("auth-failure-delay");
    c.shutdown_timeout_ms = num("shutdown-timeout");
    c.auth_cache_ttl_ms = num("auth-cache-ttl");
    c.auth_cache_size = num("auth-cache-size");
    c.pid_file = str("pid-file");
    c.secret_key_file = str("secret-key-file");
    c.worker_heap_retain = num("worker-heap-retain");
    c.workers = 0;
    if (std::string w = str("workers"); w != "auto")
        c.workers = std::strtoll(w.c_str(), nullptr, 10); // checked by finish()
}

// check_workers - "auto" or a decimal 1..max_workers (a STRING key, since
// the schema types have no "integer or word").
void check_workers(const Effective &e, Diagnostics &diags)
{
    auto *v = e.get("workers");
    if (v == nullptr || *v == "auto")
        return;
    bool digits =
        !v->empty() && v->size() <= 4 && v->find_first_not_of("0123456789") == std::string::npos;
    long long n = digits ? std::strtoll(v->c_str(), nullptr, 10) : 0;
    if (n < 1 || n > max_workers)
        diags.error(e.location_of("workers"), "workers: '" + *v +
                                                  "' is not 'auto' or a number from 1 to " +
                                                  std::to_string(max_workers));
}

// check_listeners - parse every listen: value with its options; a TLS
// listener needs a certificate and key, its own or the global ones.
void check_listeners(const Effective &e, CoreSettings &c, Diagnostics &diags)
{
    c.listeners.clear();
    std::vector<std::pair<std::string, Location>> values;
    if (e.section != nullptr)
        for (const auto &entry : e.section->entries)
            if (entry.key == "listen")
                values.emplace_back(entry.value, entry.where);
    if (values.empty())
        values.emplace_back(c.listen.front(), e.location_of("listen"));
    const bool have_cert = !c.tls_certificate.empty() && !c.tls_key.empty();
    for (const auto &[value, where] : values) {
        address::ListenSpec spec;
        std::string why;
        if (!address::parse_listen(value, spec, why)) {
            diags.error(where, "listen: " + why);
            continue;
        }
        auto &o = spec.options;
        if (o.tls == address::TlsMode::unset)
            o.tls = have_cert ? address::TlsMode::stls : address::TlsMode::none;
        if (o.tls != address::TlsMode::none && o.certificate.empty() && !have_cert) {
            diags.error(where, "listen: " + spec.text +
                                   " uses TLS but has no certificate: set tls-certificate and "
                                   "tls-key, or certificate= and key= on this listener");
            continue;
        }
        if (o.tls == address::TlsMode::none && (!o.certificate.empty() || o.tls_legacy)) {
            diags.error(where, "listen: " + spec.text +
                                   " has TLS options but tls=none; drop them or choose tls=stls "
                                   "or tls=implicit");
            continue;
        }
        if (o.proxy && c.proxy_networks.empty()) {
            diags.error(where, "listen: " + spec.text +
                                   " has proxy=yes but proxy-trusted-networks is empty: list "
                                   "the addresses of the proxies");
            continue;
        }
        c.listeners.push_back(std::move(spec));
    }
}

void check_tls_keys(const Effective &e, CoreSettings &c, Diagnostics &diags)
{
    if (c.tls_certificate.empty() != c.tls_key.empty())
        diags.error(e.location_of(c.tls_key.empty() ? "tls-certificate" : "tls-key"),
                    "tls-certificate and tls-key go together");
    if (!c.tls_chain.empty() && c.tls_certificate.empty())
        diags.error(e.location_of("tls-chain"), "tls-chain needs tls-certificate and tls-key");
    if (e.section != nullptr)
        for (const auto &entry : e.section->entries) {
            if (entry.key != "tls-sni")
                continue;
            const std::size_t words = util::split_words(entry.value).size();
            if (words < 3 || words > 4)
                diags.error(entry.where,
                            "tls-sni: expected HOSTNAME CERTIFICATE KEY [CHAIN], got '" +
                                entry.value + "'");
        }
    std::string why;
    if (const std::string *ex = e.get("expire");
        ex != nullptr && !ex->empty() && c.expire_days == -2)
        diags.error(e.location_of("expire"),
                    "expire: '" + *ex + "' is not a number of days (0-99999) or 'never'");
    if (const std::string *p = e.get("proxy-trusted-networks");
        p != nullptr && !address::parse_cidr_list(*p, c.proxy_networks, why))
        diags.error(e.location_of("proxy-trusted-networks"), "proxy-trusted-networks: " + why);
    for (const auto &m : c.sasl_mechanisms)
        if (m != "PLAIN" && m != "LOGIN" && m != "CRAM-MD5" && m != "SCRAM-SHA-256" &&
            m != "SCRAM-SHA-256-PLUS")
            diags.error(e.location_of("sasl-mechanisms"),
                        "sasl-mechanisms: unknown mechanism '" + m +
                            "' (known: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256 SCRAM-SHA-256-PLUS)");
    const std::string *nets = e.get("plaintext-trusted-networks");
    if (nets != nullptr && !address::parse_cidr_list(*nets, c.plaintext_networks, why))
        diags.error(e.location_of("plaintext-trusted-networks"),
                    "plaintext-trusted-networks: " + why);
}

// check_login_chroot - the directory as the workers will enter it (also at
// reload, so that a broken one keeps the running generation).
void check_login_chroot(const Effective &e, const CoreSettings &c, Diagnostics &diags)
{
    if (c.login_chroot.empty())
        return;
    std::string why = check_chroot_dir(c.login_chroot);
    if (!why.empty())
        diags.error(e.location_of("login-chroot"), why);
}

bool finish(Configuration &out, Diagnostics &diags)
{
    std::size_t before = diags.size();
    out.global = check_section(out.text.sections.front(), core_schema(), diags);
    check_workers(out.global, diags);
    read_settings(out.global, out.core);
    if (diags.size() == before) {
        check_tls_keys(out.global, out.core, diags);
        check_listeners(out.global, out.core, diags);
        check_login_chroot(out.global, out.core, diags);
    }
    return diags.size() == before;
}

} // namespace

const Schema &core_schema()
{
    using L = int64_t;
    static const Schema schema = {
        key("listen", MODPOP3D_CONF_STRING, "127.0.0.1:110",
            "an address and port to accept POP3 on (ADDR:PORT, [V6ADDR]:PORT), then options: "
            "tls=none|stls|implicit certificate= key= chain= tls-legacy=yes plaintext-auth= "
            "domain= proxy=yes; repeat the key for several listeners",
            0, 0, "", MODPOP3D_CONFF_MULTI),
        key("module-dir", MODPOP3D_CONF_PATH, default_module_dir(),
            "the directory modules are loaded from"),
        key("log-target", MODPOP3D_CONF_ENUM, "syslog", "where log lines go", 0, 0,
            "syslog|stderr"),
        key("log-level", MODPOP3D_CONF_ENUM, "info", "the most verbose level logged", 0, 0,
            "err|warning|notice|info|debug"),
        key("log-facility", MODPOP3D_CONF_ENUM, "mail", "the syslog facility of log lines", 0, 0,
            "mail|daemon|auth|authpriv|local0|local1|local2|local3|local4|local5|local6|local7"),
        key("max-session-time", MODPOP3D_CONF_DURATION, "0",
            "longest time a session may stay logged in, active or not, before it is closed "
            "as a dropped connection (see commit-on-early-close); 0: no limit",
            0, L{7} * 86400 * 1000),
        key("mail-user", MODPOP3D_CONF_STRING, "",
            "the one system user owning all virtual mailboxes (the fast path)"),
        key("mail-group", MODPOP3D_CONF_STRING, "", "the group for mail-user's sessions"),
        key("login-chroot", MODPOP3D_CONF_PATH, std::nullopt,
            "a directory the worker processes chroot(2) to before they serve (unset: none); "
            "owned by root and writable by nobody else; mailbox paths then resolve inside it"),
        key("default-mailbox", MODPOP3D_CONF_TEMPLATE, "maildir:$(home)/Maildir",
            "ordered mailbox spec list used when the auth module gives none"),
        key("timeout-preauth", MODPOP3D_CONF_DURATION, "10m",
            "inactivity allowed before login, reset by every command (RFC 1939: at least 10 "
            "minutes); idle pre-login connections are shed first when the limits are reached",
            1000, L{3600} * 1000),
        key("lock-wait", MODPOP3D_CONF_DURATION, "5s",
            "how long a login waits for a maildrop another session holds (or is releasing) "
            "before -ERR [IN-USE]; retried from the event loop, other sessions never wait",
            0, L{300} * 1000),
        key("timeout-idle", MODPOP3D_CONF_DURATION, "10m",
            "idle time after login before the session is closed (RFC 1939: at least 10 minutes)",
            L{600} * 1000, L{86400} * 1000),
        key("max-connections", MODPOP3D_CONF_INT, "1000", "concurrent connections in total", 1,
            1000000),
        key("max-connections-per-ip", MODPOP3D_CONF_INT, "20",
            "concurrent connections per client address (IPv6: per /64)", 1, 1000000),
        key("max-output-buffer", MODPOP3D_CONF_SIZE, "64M",
            "replies a client may leave unread before it is disconnected (commands wait "
            "unanswered from 64K on; only a listing larger than this can reach it)",
            L{1} << 20, L{1} << 32),
        key("max-auth-failures", MODPOP3D_CONF_INT, "3",
            "failed logins before the connection is closed", 1, 100),
        key("max-bad-commands", MODPOP3D_CONF_INT, "10",
            "unknown, malformed or oversized commands before the connection is closed", 1, 1000),
        key("lowercase-user", MODPOP3D_CONF_BOOL, "no", "fold login names to lower case"),
        key("append-domain", MODPOP3D_CONF_STRING, "",
            "a domain appended to login names that have none"),
        key("strip-domain", MODPOP3D_CONF_BOOL, "no", "remove @domain from login names"),
        key("domain-separators", MODPOP3D_CONF_STRING, "@",
            "characters that separate user and domain in login names (e.g. \"@%!\")"),
        key("commit-on-early-close", MODPOP3D_CONF_BOOL, "no",
            "apply DELEs when a client drops without QUIT (tpop3d's behaviour; RFC 1939 says no)"),
        key("apop", MODPOP3D_CONF_BOOL, "no",
            "offer APOP when an auth module can supply plaintext-equivalent secrets"),
        key("implementation", MODPOP3D_CONF_STRING, "modpop3d",
            "the CAPA IMPLEMENTATION text shown after login (empty: not shown)"),
        key("plaintext-auth", MODPOP3D_CONF_ENUM, "tls-or-loopback",
            "where USER/PASS, APOP and AUTH PLAIN/LOGIN are allowed: over TLS, or also from "
            "loopback and plaintext-trusted-networks, or always (a listener may override it)",
            0, 0, "tls-or-loopback|tls|always"),
        key("sasl-mechanisms", MODPOP3D_CONF_STRING, "PLAIN LOGIN",
            "SASL mechanisms to offer: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256 SCRAM-SHA-256-PLUS; "
            "CRAM-MD5 and SCRAM need secrets the auth modules can return ({PLAIN} or SCRAM "
            "verifiers) for every user, or clients that prefer them fail to log in"),
        key("plaintext-trusted-networks", MODPOP3D_CONF_STRING, "",
            "address ranges (CIDR, blank- or comma-separated) where tls-or-loopback also allows "
            "plaintext logins"),
        key("proxy-trusted-networks", MODPOP3D_CONF_STRING, "",
            "address ranges (CIDR) of the load balancers allowed to send PROXY headers to "
            "proxy=yes listeners"),
        key("tls-certificate", MODPOP3D_CONF_PATH, std::nullopt,
            "PEM certificate for TLS listeners (read before privileges are dropped)"),
        key("tls-key", MODPOP3D_CONF_PATH, std::nullopt, "PEM private key of tls-certificate"),
        key("tls-chain", MODPOP3D_CONF_PATH, std::nullopt,
            "PEM intermediate certificates sent after tls-certificate"),
        key("tls-sni", MODPOP3D_CONF_STRING, "",
            "HOSTNAME CERTIFICATE KEY [CHAIN]: another certificate chosen by SNI (HOSTNAME may "
            "start with \"*.\"); repeat the key for several",
            0, 0, "", MODPOP3D_CONFF_MULTI),
        key("tls-min-version", MODPOP3D_CONF_ENUM, "1.2",
            "the oldest TLS version accepted (a tls-legacy=yes listener accepts 1.0)", 0, 0,
            "1.2|1.3"),
        key("tls-ciphers", MODPOP3D_CONF_STRING,
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
            "OpenSSL cipher list for TLS 1.2 (forward-secret AEAD ciphers only by default)"),
        key("tls-ciphersuites", MODPOP3D_CONF_STRING,
            "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
            "OpenSSL ciphersuites for TLS 1.3"),
        key("tls-session-tickets", MODPOP3D_CONF_BOOL, "yes",
            "resume TLS sessions with tickets (the keys live in memory only)"),
        key("tls-handshake-timeout", MODPOP3D_CONF_DURATION, "10s",
            "time allowed for a TLS handshake (implicit TLS or after STLS)", 1000, L{300} * 1000),
        key("login-delay", MODPOP3D_CONF_DURATION, "0",
            "minimum time between two logins of one user (RFC 2449 LOGIN-DELAY; 0: none); an "
            "auth module may set a per-user value",
            0, L{86400} * 1000),
        key("expire", MODPOP3D_CONF_STRING, "",
            "RFC 2449 EXPIRE: days a retrieved message may stay (0: deleted once retrieved, "
            "at QUIT), or never; empty: not announced. An auth module may set a per-user value"),
        key("auth-threads", MODPOP3D_CONF_INT, "8",
            "threads running auth modules, so that a slow backend stalls only its own logins", 1,
            256),
        key("auth-timeout", MODPOP3D_CONF_DURATION, "30s",
            "how long a login waits for the auth process before it is answered -ERR [SYS/TEMP]",
            100, L{3600} * 1000),
        key("hook-timeout", MODPOP3D_CONF_DURATION, "10s",
            "how long a login waits for the LOGIN hooks' verdict before it is answered "
            "-ERR [SYS/TEMP]; other sessions never wait for it",
            100, L{3600} * 1000),
        key("auth-failure-delay", MODPOP3D_CONF_DURATION, "1s",
            "delay before answering a failed login, multiplied by the client address's recent "
            "failures (up to 8)",
            0, L{60} * 1000),
        key("auth-cache-ttl", MODPOP3D_CONF_DURATION, "0",
            "how long a successful password check is reused for the same user and password "
            "(0: no cache; a changed password keeps working that long)",
            0, L{86400} * 1000),
        key("auth-cache-size", MODPOP3D_CONF_INT, "10000",
            "most entries in the auth cache; the oldest is dropped when full", 1, 10000000),
        key("shutdown-timeout", MODPOP3D_CONF_DURATION, "10s",
            "on SIGTERM, how long running sessions may go on before they are closed", 0,
            L{3600} * 1000),
        key("workers", MODPOP3D_CONF_STRING, "auto",
            "worker processes accepting connections: a number from 1 to 64, or auto (one per "
            "online CPU)"),
        key("worker-heap-retain", MODPOP3D_CONF_SIZE, "32M",
            "freed heap memory a process serving many sessions keeps for the next ones instead "
            "of returning it to the kernel (0: the C library's defaults)",
            0, L{1} << 30),
        key("secret-key-file", MODPOP3D_CONF_STRING, "",
            "file of the installation's secret key (made at first start, mode 0600): keeps "
            "made-up SCRAM salts of unknown users the same across restarts"),
        key("pid-file", MODPOP3D_CONF_STRING, "",
            "where the master writes its process id (empty: no file); a stale file is replaced, "
            "a live one stops the start"),
    };
    return schema;
}

int64_t worker_count(const CoreSettings &s)
{
    if (s.workers > 0)
        return s.workers;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : cpus > max_workers ? max_workers : cpus;
}

std::string default_config_file()
{
    return MODPOP3D_CONFDIR "/modpop3d.conf";
}
std::string default_module_dir()
{
    return MODPOP3D_MODULEDIR;
}

bool load_configuration(const std::string &path, Configuration &out, Diagnostics &diags)
{
    std::size_t before = diags.size();
    out.text = parse_file(path, diags);
    bool parsed = diags.size() == before;
    return finish(out, diags) && parsed;
}

bool configuration_from_text(const std::string &text, const std::string &name, Configuration &out,
                             Diagnostics &diags)
{
    std::size_t before = diags.size();
    out.text = parse_string(text, name, diags);
    bool parsed = diags.size() == before;
    return finish(out, diags) && parsed;
}

} // namespace modpop3d::config
