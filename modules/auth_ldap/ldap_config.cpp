// ldap_config.cpp - auth_ldap's schema and configuration reader (see
// ldap_config.hpp).
#include "ldap_config.hpp"

#include "conf_util.hpp"
#include "ldap_text.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <ldap.h>
#include <sys/stat.h>
#include <unistd.h>

namespace modpop3d::ldap
{

namespace cu = modpop3d::confutil;

// Keys with a tpop3d alias have no schema default (a default would hide
// whether the alias was used); their defaults are applied in read_config.
const modpop3d_conf_item conf_schema[] = {
    {"uri", MODPOP3D_CONF_LIST, MODPOP3D_CONFF_MULTI, nullptr,
     "LDAP servers tried in this order: ldap://HOST[:PORT], ldaps://HOST[:PORT] or "
     "ldapi://%2Fpath%2Fto%2Fsocket.",
     nullptr, 0, 0},
    {"url", MODPOP3D_CONF_LIST, 0, nullptr,
     "tpop3d's auth-ldap-url: as uri, and a DN after the host is the search base.", nullptr, 0, 0},
    {"base", MODPOP3D_CONF_TEMPLATE, 0, nullptr,
     "Search base DN; $(user) $(local_part) $(domain) are DN-escaped (RFC 4514).", nullptr, 0, 0},
    {"scope", MODPOP3D_CONF_ENUM, 0, "subtree", "Search scope.", "subtree|onelevel|base|sub|one", 0,
     0},
    {"filter", MODPOP3D_CONF_TEMPLATE, 0, "(mail=$(local_part)@$(domain))",
     "Search filter; $(user) $(local_part) $(domain) are escaped (RFC 4515). Exactly one entry "
     "must match.",
     nullptr, 0, 0},
    {"mode", MODPOP3D_CONF_ENUM, 0, "bind",
     "bind: bind as the entry found with the client's password; compare: read "
     "password-attribute and check it here (needed for APOP, CRAM-MD5, SCRAM).",
     "bind|compare", 0, 0},
    {"bind-dn", MODPOP3D_CONF_STRING, 0, nullptr,
     "DN the search connections bind as; unset: anonymous searches.", nullptr, 0, 0},
    {"searchdn", MODPOP3D_CONF_STRING, 0, nullptr, "tpop3d's auth-ldap-searchdn: as bind-dn.",
     nullptr, 0, 0},
    {"bind-password-file", MODPOP3D_CONF_PATH, 0, nullptr,
     "File holding bind-dn's password on its first line; only its owner (root) may read it.",
     nullptr, 0, 0},
    {"password", MODPOP3D_CONF_STRING, MODPOP3D_CONFF_SECRET, nullptr,
     "tpop3d's auth-ldap-password: refused, use bind-password-file.", nullptr, 0, 0},
    {"password-attribute", MODPOP3D_CONF_STRING, 0, "userPassword",
     "compare mode: the attribute holding the stored password.", nullptr, 0, 0},
    {"default-scheme", MODPOP3D_CONF_STRING, 0, "PLAIN",
     "compare mode: the scheme of a stored password without a {SCHEME} prefix.", nullptr, 0, 0},
    {"starttls", MODPOP3D_CONF_BOOL, 0, nullptr,
     "Use StartTLS on ldap:// servers and refuse to go on without it (default no).", nullptr, 0, 0},
    {"use-tls", MODPOP3D_CONF_BOOL, 0, nullptr, "tpop3d's auth-ldap-use-tls: as starttls.", nullptr,
     0, 0},
    {"tls", MODPOP3D_CONF_BOOL, 0, nullptr, "tpop3d's auth-ldap-tls: as starttls.", nullptr, 0, 0},
    {"tls-ca-file", MODPOP3D_CONF_PATH, 0, nullptr,
     "CA certificates (PEM) the server's certificate must chain to; unset: the system's.", nullptr,
     0, 0},
    {"tls-ca-dir", MODPOP3D_CONF_PATH, 0, nullptr, "A directory of hashed CA certificates.",
     nullptr, 0, 0},
    {"allow-cleartext-password", MODPOP3D_CONF_BOOL, 0, "no",
     "Allow passwords over ldap:// without StartTLS to a server that is not on this machine.",
     nullptr, 0, 0},
    {"network-timeout", MODPOP3D_CONF_DURATION, 0, "3s",
     "Longest wait for a connection (and its TLS handshake) to one server.", nullptr, 100, 60000},
    {"search-timeout", MODPOP3D_CONF_DURATION, 0, "5s",
     "Longest wait for each search, bind and StartTLS; then the login fails with [SYS/TEMP].",
     nullptr, 100, 300000},
    {"reconnect-max-backoff", MODPOP3D_CONF_DURATION, 0, "30s",
     "A server that failed is left alone for 0.5 s, doubling per further failure up to this.",
     nullptr, 0, 3600000},
    {"pool-size", MODPOP3D_CONF_INT, 0, "4",
     "Most open search connections, and most open user-bind connections, per auth process.",
     nullptr, 1, 256},
    {"referrals", MODPOP3D_CONF_BOOL, 0, "no",
     "Follow referrals (off: a referral matches no "
     "one).",
     nullptr, 0, 0},
    {"mailbox", MODPOP3D_CONF_TEMPLATE, 0, "maildir:$(home)/Maildir",
     "Mailbox spec list for entries without mailbox-attribute.", nullptr, 0, 0},
    {"mailbox-attribute", MODPOP3D_CONF_STRING, 0, nullptr,
     "Attribute holding the mailbox: a path (a trailing / means maildir, else bsd) or "
     "TYPE:/path.",
     nullptr, 0, 0},
    {"mailbox-attr", MODPOP3D_CONF_STRING, 0, nullptr,
     "tpop3d's auth-ldap-mailbox-attr: as mailbox-attribute.", nullptr, 0, 0},
    {"mailbox-type-attribute", MODPOP3D_CONF_STRING, 0, nullptr,
     "Attribute naming the mailbox type (maildir, bsd, ...) of a path.", nullptr, 0, 0},
    {"mboxtype-attr", MODPOP3D_CONF_STRING, 0, nullptr,
     "tpop3d's auth-ldap-mboxtype-attr: as mailbox-type-attribute.", nullptr, 0, 0},
    {"home-attribute", MODPOP3D_CONF_STRING, 0, "homeDirectory",
     "Attribute holding the home directory.", nullptr, 0, 0},
    {"home", MODPOP3D_CONF_PATH, 0, nullptr,
     "Home directory for entries without one (and whose uid is not a named user).", nullptr, 0, 0},
    {"uid-attribute", MODPOP3D_CONF_STRING, 0, nullptr,
     "Attribute holding the mailbox owner (number or user name); default uidNumber unless uid "
     "is set.",
     nullptr, 0, 0},
    {"mail-user-attr", MODPOP3D_CONF_STRING, 0, nullptr,
     "tpop3d's auth-ldap-mail-user-attr: as uid-attribute.", nullptr, 0, 0},
    {"gid-attribute", MODPOP3D_CONF_STRING, 0, nullptr,
     "Attribute holding the group (number or name); default gidNumber unless gid is set.", nullptr,
     0, 0},
    {"mail-group-attr", MODPOP3D_CONF_STRING, 0, nullptr,
     "tpop3d's auth-ldap-mail-group-attr: as gid-attribute.", nullptr, 0, 0},
    {"uid", MODPOP3D_CONF_STRING, 0, nullptr,
     "Mailbox owner (user name or number) for entries without uid-attribute.", nullptr, 0, 0},
    {"mail-user", MODPOP3D_CONF_STRING, 0, nullptr, "tpop3d's auth-ldap-mail-user: as uid.",
     nullptr, 0, 0},
    {"gid", MODPOP3D_CONF_STRING, 0, nullptr,
     "Group (name or number) for entries without gid-attribute; default: uid's primary group.",
     nullptr, 0, 0},
    {"mail-group", MODPOP3D_CONF_STRING, 0, nullptr, "tpop3d's auth-ldap-mail-group: as gid.",
     nullptr, 0, 0},
    {"login-delay-attribute", MODPOP3D_CONF_STRING, 0, nullptr,
     "Attribute holding the user's LOGIN-DELAY in seconds.", nullptr, 0, 0},
    {"expire-attribute", MODPOP3D_CONF_STRING, 0, nullptr,
     "Attribute holding the user's EXPIRE in days (or NEVER).", nullptr, 0, 0},
    {"min-uid", MODPOP3D_CONF_INT, 0, "1000",
     "Lowest uid a login may map to; uid 0 is always refused.", nullptr, 1, 4294967294LL},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

Config::~Config()
{
    explicit_bzero(bind_pw.data(), bind_pw.size());
}

namespace
{

bool is_set(const modpop3d_host *host, const modpop3d_conf *conf, const char *key)
{
    const char *v = nullptr;
    return host->conf_str(conf, key, &v) == MODPOP3D_OK && v != nullptr;
}

// pick - the key whose value counts among a key and its tpop3d aliases: the
// one that is set (an error when two are).
const char *pick(const modpop3d_host *host, const modpop3d_conf *conf,
                 std::initializer_list<const char *> keys, bool &ok)
{
    const char *chosen = nullptr;
    for (const char *k : keys) {
        if (!is_set(host, conf, k))
            continue;
        if (chosen != nullptr) {
            host->conf_error(conf, k, "means the same as %s: set only one of them", chosen);
            ok = false;
            continue;
        }
        chosen = k;
    }
    return chosen;
}

std::optional<std::string> str_of(const modpop3d_host *host, const modpop3d_conf *conf,
                                  std::initializer_list<const char *> keys, bool &ok)
{
    const char *k = pick(host, conf, keys, ok);
    if (k == nullptr)
        return std::nullopt;
    return cu::str(host, conf, k);
}

std::vector<std::string> list_of(const modpop3d_host *host, const modpop3d_conf *conf,
                                 const char *key)
{
    std::vector<std::string> out;
    const char *item = nullptr;
    for (uint32_t i = 0; i < 64 && host->conf_list_item(conf, key, i, &item) == MODPOP3D_OK; ++i)
        out.emplace_back(item);
    return out;
}

// An attribute description: a name or an OID, options after ';'.
bool valid_attribute(const std::string &a)
{
    if (a.empty() || a.size() > 128)
        return false;
    for (char c : a)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == ';'))
            return false;
    return true;
}

bool loopback_host(std::string h)
{
    if (!h.empty() && h.front() == '[' && h.back() == ']')
        h = h.substr(1, h.size() - 2);
    if (h.empty() || h == "localhost")
        return true;
    unsigned char addr[sizeof(in6_addr)];
    if (inet_pton(AF_INET, h.c_str(), addr) == 1)
        return addr[0] == 127;
    return inet_pton(AF_INET6, h.c_str(), addr) == 1 &&
           IN6_IS_ADDR_LOOPBACK(reinterpret_cast<const in6_addr *>(addr));
}

} // namespace

bool is_local_uri(const std::string &uri)
{
    LDAPURLDesc *d = nullptr;
    if (ldap_url_parse(uri.c_str(), &d) != LDAP_URL_SUCCESS || d == nullptr)
        return false;
    const std::string scheme = d->lud_scheme ? d->lud_scheme : "";
    const bool local = scheme == "ldapi" || loopback_host(d->lud_host ? d->lud_host : "");
    ldap_free_urldesc(d);
    return local;
}

bool read_secret_file(const std::string &path, std::string &out, std::string &error)
{
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        error = path + ": " + std::strerror(errno);
        return false;
    }
    struct stat st {
    };
    bool ok = fstat(fd, &st) == 0;
    if (!ok)
        error = path + ": " + std::strerror(errno);
    else if (!S_ISREG(st.st_mode))
        error = path + " is not a regular file", ok = false;
    else if ((st.st_mode & 077) != 0)
        error = path + " may be read or written by others than its owner (chmod 600)", ok = false;
    else if (st.st_uid != 0 && st.st_uid != geteuid())
        error = path + " is owned by neither root nor the server's user", ok = false;
    else if (st.st_size > 4096)
        error = path + " is longer than 4096 bytes", ok = false;
    std::string text;
    if (ok) {
        text.resize(static_cast<std::size_t>(st.st_size));
        const ssize_t n = read(fd, text.data(), text.size());
        if (n < 0 || static_cast<std::size_t>(n) != text.size())
            error = path + ": short read", ok = false;
    }
    close(fd);
    const auto nl = text.find_first_of("\r\n");
    out = text.substr(0, nl);
    explicit_bzero(text.data(), text.size());
    if (ok && out.empty())
        error = path + " holds an empty password (that would be an unauthenticated bind)",
        ok = false;
    return ok;
}

bool read_config(const modpop3d_host *host, const modpop3d_conf *conf, Config &c, bool read_secret)
{
    bool ok = true;
    auto fail = [&](const char *key, const std::string &what) {
        host->conf_error(conf, key, "%s", what.c_str());
        ok = false;
    };

    // Servers: uri, or tpop3d's url whose DN part is the base.
    const char *uri_key = pick(host, conf, {"uri", "url"}, ok);
    std::string url_base;
    if (uri_key == nullptr) {
        fail(nullptr, "uri is required (the LDAP servers, in order)");
    } else {
        for (const std::string &u : list_of(host, conf, uri_key)) {
            LDAPURLDesc *d = nullptr;
            if (ldap_url_parse(u.c_str(), &d) != LDAP_URL_SUCCESS || d == nullptr) {
                fail(uri_key, "'" + u + "' is not an ldap://, ldaps:// or ldapi:// URI");
                continue;
            }
            if (d->lud_dn != nullptr && *d->lud_dn != '\0' && url_base.empty())
                url_base = d->lud_dn;
            ldap_free_urldesc(d);
            // libldap takes the URI as written; a DN part is ignored there.
            c.conn.uris.push_back(u);
        }
        if (ok && c.conn.uris.empty())
            fail(uri_key, "names no server");
    }

    c.base = cu::str(host, conf, "base", url_base);
    if (auto e = check_template(c.base); !e.empty())
        fail("base", e);
    c.filter = cu::str(host, conf, "filter");
    if (c.filter.empty() || c.filter.front() != '(' || c.filter.back() != ')')
        fail("filter", "must be an LDAP filter in parentheses, e.g. (uid=$(user))");
    else if (auto e = check_template(c.filter); !e.empty())
        fail("filter", e);
    const std::string scope = cu::str(host, conf, "scope", "subtree");
    c.scope = scope == "base"                           ? LDAP_SCOPE_BASE
              : (scope == "onelevel" || scope == "one") ? LDAP_SCOPE_ONELEVEL
                                                        : LDAP_SCOPE_SUBTREE;
    c.compare = cu::str(host, conf, "mode", "bind") == "compare";

    // The service identity.
    if (is_set(host, conf, "password"))
        fail("password", "the service password is not read from the configuration: put it in "
                         "a file only root can read and name that file with bind-password-file");
    c.bind_dn = str_of(host, conf, {"bind-dn", "searchdn"}, ok).value_or("");
    c.bind_pw_file = cu::str(host, conf, "bind-password-file");
    if (!c.bind_dn.empty() && c.bind_pw_file.empty())
        fail("bind-dn", "needs bind-password-file (a DN without a password would be an "
                        "unauthenticated bind)");
    if (c.bind_dn.empty() && !c.bind_pw_file.empty())
        fail("bind-password-file", "is of no use without bind-dn");
    if (!c.bind_pw_file.empty()) {
        std::string pw, err;
        if (!read_secret_file(c.bind_pw_file, pw, err))
            fail("bind-password-file", err);
        else if (read_secret)
            c.bind_pw = std::move(pw);
        explicit_bzero(pw.data(), pw.size());
    }

    // TLS and the cleartext rule.
    const char *tls_key = pick(host, conf, {"starttls", "use-tls", "tls"}, ok);
    c.conn.starttls = tls_key != nullptr && cu::boolean(host, conf, tls_key, false);
    c.conn.ca_file = cu::str(host, conf, "tls-ca-file");
    c.conn.ca_dir = cu::str(host, conf, "tls-ca-dir");
    const bool allow_clear = cu::boolean(host, conf, "allow-cleartext-password", false);
    if (uri_key != nullptr)
        for (const std::string &u : c.conn.uris) {
            const bool tls = c.conn.starttls || u.rfind("ldaps:", 0) == 0;
            if (!tls && !allow_clear && !is_local_uri(u))
                fail(uri_key, u + " would carry passwords in cleartext to another machine: use "
                                  "ldaps://, starttls: yes, or allow-cleartext-password: yes");
        }
    c.conn.network_timeout_ms = cu::integer(host, conf, "network-timeout", 3000);
    c.conn.op_timeout_ms = cu::integer(host, conf, "search-timeout", 5000);
    c.conn.max_backoff_ms = cu::integer(host, conf, "reconnect-max-backoff", 30000);
    c.conn.referrals = cu::boolean(host, conf, "referrals", false);
    c.pool_size = static_cast<std::size_t>(cu::integer(host, conf, "pool-size", 4));

    // Passwords in compare mode.
    c.attrs.password = cu::str(host, conf, "password-attribute", "userPassword");
    c.default_scheme = cu::str(host, conf, "default-scheme", "PLAIN");
    if (c.default_scheme.empty() || c.default_scheme.find_first_of("{} \t") != std::string::npos)
        fail("default-scheme", "must be a scheme name such as PLAIN or CRYPT");

    // Attribute mapping.
    c.mailbox = cu::str(host, conf, "mailbox", "maildir:$(home)/Maildir");
    c.attrs.mailbox = str_of(host, conf, {"mailbox-attribute", "mailbox-attr"}, ok).value_or("");
    c.attrs.mailbox_type =
        str_of(host, conf, {"mailbox-type-attribute", "mboxtype-attr"}, ok).value_or("");
    c.attrs.home = cu::str(host, conf, "home-attribute", "homeDirectory");
    c.home = cu::str(host, conf, "home");
    c.uid = str_of(host, conf, {"uid", "mail-user"}, ok);
    c.gid = str_of(host, conf, {"gid", "mail-group"}, ok);
    c.attrs.uid = str_of(host, conf, {"uid-attribute", "mail-user-attr"}, ok)
                      .value_or(c.uid ? "" : "uidNumber");
    c.attrs.gid = str_of(host, conf, {"gid-attribute", "mail-group-attr"}, ok)
                      .value_or(c.gid ? "" : "gidNumber");
    c.attrs.login_delay = cu::str(host, conf, "login-delay-attribute");
    c.attrs.expire = cu::str(host, conf, "expire-attribute");
    const std::pair<const char *, const std::string *> attr_keys[] = {
        {"password-attribute", &c.attrs.password},
        {"mailbox-attribute", &c.attrs.mailbox},
        {"mailbox-type-attribute", &c.attrs.mailbox_type},
        {"home-attribute", &c.attrs.home},
        {"uid-attribute", &c.attrs.uid},
        {"gid-attribute", &c.attrs.gid},
        {"login-delay-attribute", &c.attrs.login_delay},
        {"expire-attribute", &c.attrs.expire}};
    for (const auto &[key, value] : attr_keys)
        if (!value->empty() && !valid_attribute(*value))
            fail(key, "'" + *value + "' is not an attribute name");
    if (c.uid && *c.uid == "0")
        fail("uid", "0 (root) may not own mailboxes");
    if (c.gid && *c.gid == "0")
        fail("gid", "0 (root) may not own mailboxes");
    c.min_uid = cu::integer(host, conf, "min-uid", 1000);
    return ok;
}

} // namespace modpop3d::ldap
