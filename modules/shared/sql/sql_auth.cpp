// sql_auth.cpp - the shared schema, configuration and auth instance of the
// SQL auth modules (see header).
#include "sql_auth.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <modpop3d/module.hpp>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace modpop3d::sql
{

namespace
{

constexpr modpop3d_conf_item schema[] = {
    {"hostname", MODPOP3D_CONF_STRING, 0, "localhost",
     "Database hosts in failover order (tpop3d: host1;host2): host, host:port, [v6]:port, or an "
     "absolute path for a unix socket (PostgreSQL: the socket's directory).",
     nullptr, 0, 0},
    {"port", MODPOP3D_CONF_INT, 0, nullptr,
     "Port for hosts given without one; unset: the library's default (3306, 5432).", nullptr, 1,
     65535},
    {"database", MODPOP3D_CONF_STRING, MODPOP3D_CONFF_REQUIRED, nullptr, "Database name.", nullptr,
     0, 0},
    {"username", MODPOP3D_CONF_STRING, MODPOP3D_CONFF_REQUIRED, nullptr,
     "User name modpop3d connects as.", nullptr, 0, 0},
    {"password", MODPOP3D_CONF_STRING, MODPOP3D_CONFF_SECRET, nullptr,
     "Database password (never logged nor shown by modpop3d -n); prefer password-file.", nullptr, 0,
     0},
    {"password-file", MODPOP3D_CONF_PATH, 0, nullptr,
     "File whose first line is the database password; owned by root and not readable by group "
     "or others.",
     nullptr, 0, 0},
    {"pass-query", MODPOP3D_CONF_STRING, MODPOP3D_CONFF_REQUIRED, nullptr,
     "Query giving exactly one row for a user; $(user) $(local_part) $(domain) $(clienthost) "
     "$(serverhost) become bound parameters. Columns: see columns.",
     nullptr, 0, 0},
    {"apop-query", MODPOP3D_CONF_STRING, 0, nullptr,
     "Query giving the stored secret for APOP, CRAM-MD5 and SCRAM; unset: pass-query; none: "
     "those mechanisms are not offered from this instance.",
     nullptr, 0, 0},
    {"onlogin-query", MODPOP3D_CONF_STRING, 0, nullptr,
     "Statement run after each successful login through this instance (e.g. a POP-before-SMTP "
     "insert); its failure is logged, not enforced.",
     nullptr, 0, 0},
    {"columns", MODPOP3D_CONF_LIST, 0, tpop3d_columns,
     "Meaning of the result columns by position (tpop3d's order by default); further columns "
     "by name (home uid gid login-delay expire scram); 'names' maps all by name.",
     nullptr, 0, 0},
    {"default-scheme", MODPOP3D_CONF_STRING, 0, "MD5",
     "Scheme of stored secrets with no {SCHEME} prefix and not in crypt(3) form (tpop3d: MD5).",
     nullptr, 0, 0},
    {"mailbox", MODPOP3D_CONF_TEMPLATE, 0, "maildir:$(home)/Maildir",
     "Mailbox spec list for rows without a mailbox location or type.", nullptr, 0, 0},
    {"mail-user", MODPOP3D_CONF_STRING, 0, nullptr,
     "Owner of the mailboxes (name or number) for rows without a unix user.", nullptr, 0, 0},
    {"mail-group", MODPOP3D_CONF_STRING, 0, nullptr,
     "Group (name or number) for every user of this instance, instead of the unix user's "
     "primary group (tpop3d).",
     nullptr, 0, 0},
    {"pool-size", MODPOP3D_CONF_INT, 0, "4",
     "Most connections the auth process keeps to the database.", nullptr, 1, 256},
    {"connect-timeout", MODPOP3D_CONF_DURATION, 0, "5s",
     "Limit on opening a connection, and on waiting for a free pooled one.", nullptr, 100, 600000},
    {"query-timeout", MODPOP3D_CONF_DURATION, 0, "5s",
     "Limit on one statement; past it the login gets -ERR [SYS/TEMP].", nullptr, 100, 600000},
    {"retry-interval", MODPOP3D_CONF_DURATION, 0, "1s",
     "How long a host that failed is skipped; doubles at each failure in a row.", nullptr, 10,
     3600000},
    {"retry-max", MODPOP3D_CONF_DURATION, 0, "30s", "Upper bound of the retry interval.", nullptr,
     10, 3600000},
    {"tls", MODPOP3D_CONF_ENUM, 0, "no",
     "TLS to the database: no, yes (encrypted, certificate not checked) or verify (checked "
     "against tls-ca and the host name).",
     "no|yes|verify", 0, 0},
    {"tls-ca", MODPOP3D_CONF_PATH, 0, nullptr, "CA certificates for tls: verify.", nullptr, 0, 0},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

std::string str(const modpop3d_host *host, const modpop3d_conf *conf, const char *key,
                const std::string &fallback = {})
{
    const char *v = nullptr;
    if (host->conf_str(conf, key, &v) == MODPOP3D_OK && v != nullptr)
        return v;
    return fallback;
}

int64_t integer(const modpop3d_host *host, const modpop3d_conf *conf, const char *key,
                int64_t fallback)
{
    int64_t v = 0;
    return host->conf_int(conf, key, &v) == MODPOP3D_OK ? v : fallback;
}

bool is_set(const modpop3d_host *host, const modpop3d_conf *conf, const char *key)
{
    const char *v = nullptr;
    return host->conf_str(conf, key, &v) == MODPOP3D_OK && v != nullptr;
}

std::optional<uint32_t> number(std::string_view s)
{
    uint32_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v == UINT32_MAX)
        return std::nullopt;
    return v;
}

struct Owner {
    uint32_t uid = 0, gid = 0;
    std::string home;
};

// find_user - a unix user by name or number; nullopt when unknown (a number
// without a passwd entry is still a uid, with no gid or home).
std::optional<Owner> find_user(const std::string &name, bool &numeric_only)
{
    numeric_only = false;
    struct passwd pw {
    };
    struct passwd *found = nullptr;
    std::string buf(16384, '\0');
    if (auto n = number(name)) {
        if (getpwuid_r(*n, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr)
            return Owner{pw.pw_uid, pw.pw_gid, pw.pw_dir ? pw.pw_dir : ""};
        numeric_only = true;
        return Owner{*n, 0, {}};
    }
    if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr)
        return Owner{pw.pw_uid, pw.pw_gid, pw.pw_dir ? pw.pw_dir : ""};
    return std::nullopt;
}

std::optional<uint32_t> find_group(const std::string &name)
{
    if (auto n = number(name))
        return n;
    struct group gr {
    };
    struct group *found = nullptr;
    std::string buf(65536, '\0');
    if (getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) == 0 && found != nullptr)
        return gr.gr_gid;
    return std::nullopt;
}

// read_password_file - the first line of a root-only file.
bool read_password_file(const std::string &path, std::string &out, std::string &why)
{
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        why = path + ": " + std::strerror(errno);
        return false;
    }
    struct stat st {
    };
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        why = path + " is not a regular file";
        return false;
    }
    if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 077) != 0) {
        close(fd);
        why = path + " must be owned by root and not readable by group or others (chmod 600)";
        return false;
    }
    std::string data;
    char buf[512];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        data.append(buf, static_cast<std::size_t>(n));
        if (data.size() > 4096)
            break;
    }
    explicit_bzero(buf, sizeof buf);
    close(fd);
    const auto nl = data.find_first_of("\r\n");
    out = data.substr(0, nl);
    explicit_bzero(data.data(), data.size());
    return true;
}

bool valid_utf8(std::string_view s)
{
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        if (c == 0)
            return false;
        if (c < 0x80)
            n = 0;
        else if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3;
        else
            return false;
        if (n > s.size() - i - 1)
            return false;
        for (std::size_t k = 1; k <= n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2)
                return false;
        if (n > 0) {
            // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
            const auto d = static_cast<unsigned char>(s[i + 1]);
            if ((c == 0xe0 && d < 0xa0) || (c == 0xed && d > 0x9f) || (c == 0xf0 && d < 0x90) ||
                (c == 0xf4 && d > 0x8f))
                return false;
        }
        i += n + 1;
    }
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix)
{
    if (s.size() < prefix.size())
        return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::toupper(static_cast<unsigned char>(s[i])) != prefix[i])
            return false;
    return true;
}

} // namespace

const modpop3d_conf_item *conf_schema(Dialect)
{
    return schema;
}

std::string log_quote(std::string_view s)
{
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + "\"";
}

bool read_config(const modpop3d_host *host, const modpop3d_conf *conf, Dialect d, Config &c)
{
    bool ok = true;
    auto fail = [&](const char *key, const std::string &what) {
        host->conf_error(conf, key, "%s", what.c_str());
        ok = false;
    };
    std::string why;
    if (!parse_hosts(str(host, conf, "hostname", "localhost"), c.db.hosts, why))
        fail("hostname", why);
    c.db.port = static_cast<unsigned>(integer(host, conf, "port", 0));
    c.db.database = str(host, conf, "database");
    c.db.username = str(host, conf, "username");
    const bool has_pw = is_set(host, conf, "password");
    const std::string pw_file = str(host, conf, "password-file");
    if (has_pw && !pw_file.empty())
        fail("password-file", "give password or password-file, not both");
    else if (!pw_file.empty() && !read_password_file(pw_file, c.db.password, why))
        fail("password-file", why);
    else if (has_pw)
        c.db.password = str(host, conf, "password");

    auto query = [&](const char *key, Query &q) {
        if (!compile(str(host, conf, key), d, q, why))
            fail(key, why);
    };
    query("pass-query", c.pass_query);
    const std::string apop = str(host, conf, "apop-query");
    if (apop == "none") {
        c.apop_query.reset();
    } else if (!apop.empty()) {
        c.apop_query.emplace();
        query("apop-query", *c.apop_query);
    } else {
        c.apop_query = c.pass_query;
    }
    if (is_set(host, conf, "onlogin-query")) {
        c.onlogin_query.emplace();
        query("onlogin-query", *c.onlogin_query);
    }

    std::vector<std::string> words;
    const char *item = nullptr;
    for (uint32_t i = 0; host->conf_list_item(conf, "columns", i, &item) == MODPOP3D_OK; ++i)
        words.emplace_back(item);
    if (!parse_columns(words, c.columns, why))
        fail("columns", why);

    c.default_scheme = str(host, conf, "default-scheme", "MD5");
    if (c.default_scheme.empty() || c.default_scheme.find_first_of("{} \t") != std::string::npos)
        fail("default-scheme", "must be a scheme name such as MD5, SHA1 or PLAIN");
    c.default_mailbox = str(host, conf, "mailbox", "maildir:$(home)/Maildir");

    if (const std::string u = str(host, conf, "mail-user"); !u.empty()) {
        bool numeric = false;
        auto o = find_user(u, numeric);
        if (!o)
            fail("mail-user", "no such user '" + u + "'");
        else if (o->uid == 0)
            fail("mail-user", "0 (root) may not own mailboxes");
        else {
            c.mail_uid = o->uid;
            if (!numeric) {
                c.mail_gid = o->gid;
                c.mail_home = o->home;
            }
        }
    }
    if (const std::string g = str(host, conf, "mail-group"); !g.empty()) {
        auto gid = find_group(g);
        if (!gid)
            fail("mail-group", "no such group '" + g + "'");
        else if (*gid == 0)
            fail("mail-group", "0 (root) may not own mailboxes");
        else
            c.mail_gid = gid;
    }

    c.pool_size = static_cast<std::size_t>(integer(host, conf, "pool-size", 4));
    c.db.connect_timeout_ms = integer(host, conf, "connect-timeout", 5000);
    c.db.query_timeout_ms = integer(host, conf, "query-timeout", 5000);
    c.retry_base_usec = static_cast<uint64_t>(integer(host, conf, "retry-interval", 1000)) * 1000;
    c.retry_max_usec = static_cast<uint64_t>(integer(host, conf, "retry-max", 30000)) * 1000;
    if (c.retry_max_usec < c.retry_base_usec)
        fail("retry-max", "must not be shorter than retry-interval");
    const std::string tls = str(host, conf, "tls", "no");
    c.db.tls = tls == "verify" ? Tls::verify : tls == "yes" ? Tls::on : Tls::off;
    c.db.tls_ca = str(host, conf, "tls-ca");
    if (c.db.tls == Tls::verify && c.db.tls_ca.empty())
        fail("tls-ca", "tls: verify needs the CA certificates (tls-ca)");
    if (!c.db.tls_ca.empty() && access(c.db.tls_ca.c_str(), R_OK) != 0)
        fail("tls-ca", c.db.tls_ca + ": " + std::strerror(errno));
    return ok;
}

Instance::Instance(const modpop3d_host *host, modpop3d_ictx *ictx, Config cfg,
                   std::unique_ptr<Driver> driver)
    : host_(host), ictx_(ictx), cfg_(std::move(cfg)), driver_(std::move(driver)),
      pool_(*driver_, cfg_.db, cfg_.pool_size, cfg_.retry_base_usec, cfg_.retry_max_usec,
            [this](int level, const std::string &text) { log(level, text); })
{
}

Instance::~Instance()
{
    // The password stays in memory for reconnects; wipe it on the way out.
    explicit_bzero(cfg_.db.password.data(), cfg_.db.password.size());
}

void Instance::log(int level, const std::string &text) const
{
    host_->log(ictx_, level, "%s", text.c_str());
}

std::optional<std::vector<std::string>> Instance::values(const Query &q, const modpop3d_session *s,
                                                         const char *user) const
{
    std::vector<std::string> v;
    v.reserve(q.params.size());
    for (Var p : q.params) {
        const char *val = nullptr;
        switch (p) {
        case Var::user:
            val = user;
            break;
        case Var::local_part:
            val = host_->session_get(s, "local_part");
            break;
        case Var::domain:
            val = host_->session_get(s, "domain");
            break;
        case Var::clienthost:
            val = host_->session_get(s, "client_ip");
            break;
        case Var::serverhost:
            val = host_->session_get(s, "local_ip");
            break;
        }
        if (val == nullptr || !valid_utf8(val)) {
            host_->log(ictx_, MODPOP3D_LOG_DEBUG,
                       "event=query_skipped reason=\"$(%s) is unknown or not UTF-8\"", var_name(p));
            return std::nullopt;
        }
        v.emplace_back(val);
    }
    return v;
}

int32_t Instance::execute(const Query &q, const std::vector<std::string> &v, Result &out,
                          const char *what)
{
    for (int attempt = 0; attempt < 2; ++attempt) {
        Pool::Lease lease;
        std::string why;
        if (!pool_.acquire(lease, why)) {
            log(MODPOP3D_LOG_ERR,
                std::string("event=db_unavailable query=") + what + " reason=" + log_quote(why));
            return MODPOP3D_E_TEMP;
        }
        out.clear();
        const Outcome o = lease.conn->run(q, v, out, why);
        const bool reused = lease.reused;
        const std::string host = cfg_.db.hosts[lease.host].label();
        switch (o) {
        case Outcome::ok:
            pool_.release(std::move(lease));
            return MODPOP3D_OK;
        case Outcome::timeout:
            pool_.release(std::move(lease)); // closed when the driver marked it unusable
            log(MODPOP3D_LOG_WARNING,
                std::string("event=query_timeout query=") + what + " host=" + host +
                    " timeout_ms=" + std::to_string(cfg_.db.query_timeout_ms));
            return MODPOP3D_E_TEMP;
        case Outcome::error:
            pool_.release(std::move(lease));
            log(MODPOP3D_LOG_ERR, std::string("event=query_failed query=") + what +
                                      " host=" + host + " reason=" + log_quote(why));
            return MODPOP3D_E_TEMP;
        case Outcome::broken:
            pool_.broken(std::move(lease));
            if (reused && attempt == 0) {
                // Likely a connection the server closed while idle (restart,
                // wait_timeout): once more on a fresh one.
                log(MODPOP3D_LOG_INFO, "event=db_connection_lost host=" + host +
                                           " reason=" + log_quote(why) + " action=retry");
                continue;
            }
            log(MODPOP3D_LOG_ERR, std::string("event=db_connection_lost query=") + what +
                                      " host=" + host + " reason=" + log_quote(why));
            return MODPOP3D_E_TEMP;
        }
    }
    return MODPOP3D_E_TEMP;
}

int32_t Instance::one_row(const Query &q, modpop3d_session *s, const char *user, Row &row)
{
    auto v = values(q, s, user);
    if (!v)
        return MODPOP3D_E_NOUSER;
    Result r;
    const int32_t st = execute(q, *v, r, "pass");
    if (st != MODPOP3D_OK)
        return st;
    if (r.rows.empty())
        return MODPOP3D_E_NOUSER;
    if (r.more || r.rows.size() > 1) {
        log(MODPOP3D_LOG_ERR, "event=ambiguous_user user=" + log_quote(user) +
                                  " reason=\"the query gave more than one row\" action=refused");
        return MODPOP3D_E_PERM;
    }
    row = map_row(cfg_.columns, r.names, r.rows.front());
    for (auto &cell : r.rows.front())
        if (cell)
            explicit_bzero(cell->data(), cell->size());
    return MODPOP3D_OK;
}

int32_t Instance::set_result(modpop3d_auth_result *res, const char *user, const Row &row)
{
    auto refuse = [&](const std::string &why) {
        log(MODPOP3D_LOG_ERR,
            "event=bad_row user=" + log_quote(user) + " reason=" + log_quote(why));
        return MODPOP3D_E_PERM;
    };
    bool bad = false;
    std::optional<std::string> spec = mailbox_spec(row, bad);
    if (bad)
        return refuse("mailbox location or type holds white space or control characters");

    std::optional<uint32_t> uid = cfg_.mail_uid, gid = cfg_.mail_gid;
    std::string home = cfg_.mail_home;
    if (row.unix_user && !row.unix_user->empty()) {
        bool numeric = false;
        auto o = find_user(*row.unix_user, numeric);
        if (!o)
            return refuse("no such unix user " + log_quote(*row.unix_user));
        uid = o->uid;
        if (!numeric) {
            gid = o->gid;
            home = o->home;
        }
        if (cfg_.mail_gid)
            gid = cfg_.mail_gid; // tpop3d's mail-group wins over the primary group
    }
    if (row.uid) {
        uid = number(*row.uid);
        if (!uid)
            return refuse("uid is not a number");
    }
    if (row.gid) {
        gid = number(*row.gid);
        if (!gid)
            return refuse("gid is not a number");
    }
    if (row.home)
        home = *row.home;
    auto set = [&](const char *key, const std::string &v) {
        if (host_->result_set(res, key, v.c_str()) == MODPOP3D_OK)
            return true;
        log(MODPOP3D_LOG_ERR,
            "event=bad_row user=" + log_quote(user) + " reason=\"bad " + key + " value\"");
        return false;
    };
    bool ok = set("user", user);
    if (ok && uid)
        ok = set("uid", std::to_string(*uid));
    if (ok && gid)
        ok = set("gid", std::to_string(*gid));
    if (ok && !home.empty())
        ok = set("home", home);
    if (ok)
        ok = set("mailbox", spec ? *spec : cfg_.default_mailbox);
    if (ok && row.login_delay)
        ok = set("login_delay", *row.login_delay);
    if (ok && row.expire)
        ok = set("expire", *row.expire);
    return ok ? MODPOP3D_OK : MODPOP3D_E_PERM;
}

int32_t Instance::verify(modpop3d_session *s, const char *user, const char *pass, std::size_t len,
                         modpop3d_auth_result *res)
{
    Row row;
    const int32_t st = one_row(cfg_.pass_query, s, user, row);
    if (st == MODPOP3D_E_NOUSER)
        host_->password_dummy_verify(pass, len);
    if (st != MODPOP3D_OK)
        return st;
    std::optional<std::string> secret;
    if (row.password)
        secret = normalise_secret(*row.password, cfg_.default_scheme);
    if (!secret && row.scram && !row.scram->empty())
        secret = istarts_with(*row.scram, "{SCRAM-SHA-256}") ? *row.scram
                                                             : "{SCRAM-SHA-256}" + *row.scram;
    if (!secret) {
        host_->password_dummy_verify(pass, len);
        log(MODPOP3D_LOG_WARNING,
            "event=no_secret user=" + log_quote(user) + " reason=\"the row has no password\"");
        return MODPOP3D_E_PERM;
    }
    const int32_t v = host_->password_verify(secret->c_str(), pass, len);
    explicit_bzero(secret->data(), secret->size());
    switch (v) {
    case MODPOP3D_OK:
        return set_result(res, user, row);
    case MODPOP3D_E_BADPASS:
        return MODPOP3D_E_BADPASS;
    case MODPOP3D_E_NOTSUP:
        log(MODPOP3D_LOG_ERR, "event=unsupported_secret user=" + log_quote(user) +
                                  " reason=\"unknown scheme or malformed secret in the database\"");
        return MODPOP3D_E_PERM;
    default:
        return v;
    }
}

int32_t Instance::lookup(modpop3d_session *s, const char *user, const char *scheme,
                         modpop3d_auth_result *res)
{
    const std::string_view want(scheme);
    if (!cfg_.apop_query || (want != "PLAIN" && want != "SCRAM-SHA-256"))
        return MODPOP3D_E_NOTSUP;
    Row row;
    const int32_t st = one_row(*cfg_.apop_query, s, user, row);
    if (st != MODPOP3D_OK)
        return st;
    std::string secret;
    std::optional<std::string> stored;
    if (row.password)
        stored = normalise_secret(*row.password, cfg_.default_scheme);
    if (want == "PLAIN") {
        if (stored)
            for (std::string_view p : {"{PLAIN}", "{PLAINTEXT}", "{CLEARTEXT}"})
                if (istarts_with(*stored, p) && stored->size() > p.size())
                    secret = "{PLAIN}" + stored->substr(p.size());
    } else if (row.scram && !row.scram->empty()) {
        secret = istarts_with(*row.scram, "{SCRAM-SHA-256}") ? *row.scram
                                                             : "{SCRAM-SHA-256}" + *row.scram;
    } else if (stored && istarts_with(*stored, "{SCRAM-SHA-256}")) {
        secret = "{SCRAM-SHA-256}" + stored->substr(15);
    }
    if (stored)
        explicit_bzero(stored->data(), stored->size());
    if (secret.empty())
        return MODPOP3D_E_NOTSUP;
    int32_t r = set_result(res, user, row);
    if (r == MODPOP3D_OK && host_->result_set(res, "password", secret.c_str()) != MODPOP3D_OK)
        r = MODPOP3D_E_INTERNAL;
    explicit_bzero(secret.data(), secret.size());
    return r;
}

int32_t Instance::on_login(modpop3d_session *s)
{
    if (!cfg_.onlogin_query)
        return MODPOP3D_OK;
    const char *user = host_->session_get(s, "user");
    if (user == nullptr)
        return MODPOP3D_OK;
    auto v = values(*cfg_.onlogin_query, s, user);
    if (!v)
        return MODPOP3D_OK; // tpop3d: a variable the session lacks skips the query
    Result r;
    return execute(*cfg_.onlogin_query, *v, r, "onlogin");
}

} // namespace modpop3d::sql
