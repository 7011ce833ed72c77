// auth_flatfile.cpp - the auth_flatfile module: users from passwd-format
// files (one file, or one per domain through a template), with any secret
// the core's password_verify() knows, re-read when a file changes.
//
// Outcomes: an unknown user, a per-domain file that does not exist and a
// name that cannot be a file name are NOUSER (after a dummy verification, so
// they cost what a wrong password costs); a missing fixed file, an unreadable
// or world-writable file are TEMP (logged); a wrong password is BADPASS; a
// secret in a scheme the core does not know is PERM (logged with file:line).
#include "file_cache.hpp"
#include "passwd_file.hpp"

#include <charconv>
#include <cstring>
#include <grp.h>
#include <memory>
#include <modpop3d/module.h>
#include <modpop3d/module.hpp>
#include <optional>
#include <pwd.h>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace
{

using modpop3d::flatfile::Entry;
using modpop3d::flatfile::FileCache;
using modpop3d::flatfile::Table;

constexpr modpop3d_conf_item conf_schema[] = {
    {"file", MODPOP3D_CONF_TEMPLATE, MODPOP3D_CONFF_REQUIRED, nullptr,
     "The passwd-format file, or a template such as /etc/modpop3d/users/$(domain) for one file "
     "per domain.",
     nullptr, 0, 0},
    {"match", MODPOP3D_CONF_ENUM, 0, "auto",
     "What the first field of a line holds: the whole login name (user), its local part "
     "(local-part), or auto: local-part when file uses $(domain), else user.",
     "auto|user|local-part", 0, 0},
    {"default-mailbox", MODPOP3D_CONF_TEMPLATE, 0, "maildir:$(home)/Maildir",
     "Mailbox spec list for lines without a mailbox field.", nullptr, 0, 0},
    {"home", MODPOP3D_CONF_TEMPLATE, 0, nullptr,
     "Home directory for lines without a home field, e.g. /srv/mail/$(domain)/$(local_part); "
     "unset: none.",
     nullptr, 0, 0},
    {"uid", MODPOP3D_CONF_STRING, 0, nullptr,
     "Owner of the mailboxes (user name or number) for lines without a uid.", nullptr, 0, 0},
    {"gid", MODPOP3D_CONF_STRING, 0, nullptr,
     "Group (name or number) for lines without a gid; unset: the primary group of uid when uid "
     "is a name.",
     nullptr, 0, 0},
    {"lowercase", MODPOP3D_CONF_BOOL, 0, "no", "Compare user names without regard to ASCII case.",
     nullptr, 0, 0},
    {"check-interval", MODPOP3D_CONF_DURATION, 0, "1s",
     "How often a file is checked for changes (0: at every login).", nullptr, 0, 3600000},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

struct Config {
    std::string file;
    bool is_template = false;
    bool by_local_part = false;
    std::string default_mailbox;
    std::string home; // template; "" = none
    std::optional<uint32_t> uid, gid;
    bool lowercase = false;
    uint64_t interval_usec = 1000000;
};

std::optional<std::string> conf_string(const modpop3d_host *host, const modpop3d_conf *conf,
                                       const char *key)
{
    const char *v = nullptr;
    if (host->conf_str(conf, key, &v) != MODPOP3D_OK || v == nullptr)
        return std::nullopt;
    return std::string(v);
}

std::optional<uint32_t> parse_number(const std::string &s)
{
    uint32_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || v == UINT32_MAX)
        return std::nullopt;
    return v;
}

// read_config - the section as a Config; reports every problem through
// conf_error and returns false when there was one.
bool read_config(const modpop3d_host *host, const modpop3d_conf *conf, Config &c)
{
    bool ok = true;
    auto fail = [&](const char *key, const std::string &what) {
        host->conf_error(conf, key, "%s", what.c_str());
        ok = false;
    };

    c.file = conf_string(host, conf, "file").value_or("");
    if (c.file.empty() || c.file.front() != '/')
        fail("file", "must be an absolute path");
    c.is_template = c.file.find("$(") != std::string::npos;

    const std::string match = conf_string(host, conf, "match").value_or("auto");
    c.by_local_part =
        match == "local-part" || (match == "auto" && c.file.find("$(domain)") != std::string::npos);

    c.default_mailbox = conf_string(host, conf, "default-mailbox").value_or("");
    if (c.default_mailbox.empty())
        fail("default-mailbox", "must not be empty");
    c.home = conf_string(host, conf, "home").value_or("");
    if (!c.home.empty() && c.home.front() != '/')
        fail("home", "must be an absolute path");

    if (auto uid = conf_string(host, conf, "uid")) {
        if (auto n = parse_number(*uid)) {
            c.uid = n;
        } else {
            struct passwd pw {
            };
            struct passwd *found = nullptr;
            std::string buf(16384, '\0');
            if (getpwnam_r(uid->c_str(), &pw, buf.data(), buf.size(), &found) == 0 &&
                found != nullptr) {
                c.uid = pw.pw_uid;
                c.gid = pw.pw_gid;
            } else {
                fail("uid", "no such user '" + *uid + "'");
            }
        }
        if (c.uid == 0u)
            fail("uid", "0 (root) may not own mailboxes");
    }
    if (auto gid = conf_string(host, conf, "gid")) {
        if (auto n = parse_number(*gid)) {
            c.gid = n;
        } else {
            struct group gr {
            };
            struct group *found = nullptr;
            std::string buf(65536, '\0');
            if (getgrnam_r(gid->c_str(), &gr, buf.data(), buf.size(), &found) == 0 &&
                found != nullptr)
                c.gid = gr.gr_gid;
            else
                fail("gid", "no such group '" + *gid + "'");
        }
        if (c.gid == 0u)
            fail("gid", "0 (root) may not own mailboxes");
    }

    int32_t lower = 0;
    if (host->conf_bool(conf, "lowercase", &lower) == MODPOP3D_OK)
        c.lowercase = lower != 0;
    int64_t ms = 1000;
    if (host->conf_int(conf, "check-interval", &ms) == MODPOP3D_OK && ms >= 0)
        c.interval_usec = static_cast<uint64_t>(ms) * 1000;
    return ok;
}

// check_files - what conf_check can see on disk: a fixed file exists, is a
// regular file and is not world-writable; a template's fixed directory exists.
bool check_files(const modpop3d_host *host, const modpop3d_conf *conf, const Config &c)
{
    struct stat st {
    };
    if (c.is_template) {
        const std::string fixed = c.file.substr(0, c.file.find("$("));
        const auto slash = fixed.rfind('/');
        const std::string dir = slash == 0 ? "/" : fixed.substr(0, slash);
        if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            host->conf_error(conf, "file", "directory %s does not exist", dir.c_str());
            return false;
        }
        return true;
    }
    if (stat(c.file.c_str(), &st) != 0) {
        host->conf_error(conf, "file", "%s: %s", c.file.c_str(), std::strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        host->conf_error(conf, "file", "%s is not a regular file", c.file.c_str());
        return false;
    }
    if ((st.st_mode & S_IWOTH) != 0) {
        host->conf_error(conf, "file", "%s is world-writable (chmod o-w)", c.file.c_str());
        return false;
    }
    return true;
}

// A path made from a template must still name a file below its directory:
// no empty, "." or ".." components (expand() already refuses "/" and ".." in
// client values; this also catches an empty domain).
bool sane_path(std::string_view p) noexcept
{
    if (p.empty() || p.front() != '/')
        return false;
    p.remove_prefix(1);
    while (true) {
        const auto slash = p.find('/');
        const std::string_view part = p.substr(0, slash);
        if (part.empty() || part == "." || part == "..")
            return false;
        if (slash == std::string_view::npos)
            return true;
        p.remove_prefix(slash + 1);
    }
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept
{
    if (s.size() < prefix.size())
        return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char a = s[i];
        if (a >= 'a' && a <= 'z')
            a = static_cast<char>(a - 'a' + 'A');
        if (a != prefix[i])
            return false;
    }
    return true;
}

class Instance
{
  public:
    Instance(const modpop3d_host *host, modpop3d_ictx *ictx, Config cfg)
        : host_(host), ictx_(ictx), cfg_(std::move(cfg)),
          cache_(cfg_.interval_usec, cfg_.lowercase, cfg_.is_template)
    {
    }

    const modpop3d_host *host() const { return host_; }
    const modpop3d_ictx *ictx() const { return ictx_; }

    int32_t verify(modpop3d_session *s, const char *user, const char *pass, std::size_t len,
                   modpop3d_auth_result *res)
    {
        Found f;
        const int32_t st = find(s, user, f);
        if (st == MODPOP3D_E_NOUSER) {
            host_->password_dummy_verify(pass, len);
            return MODPOP3D_E_NOUSER;
        }
        if (st != MODPOP3D_OK)
            return st;
        switch (const int32_t v = host_->password_verify(f.entry->secret.c_str(), pass, len)) {
        case MODPOP3D_OK:
            return set_result(s, res, user, *f.entry);
        case MODPOP3D_E_BADPASS:
            return MODPOP3D_E_BADPASS;
        case MODPOP3D_E_NOTSUP:
            host_->log(ictx_, MODPOP3D_LOG_ERR,
                       "event=unsupported_secret where=%s:%u user=\"%s\" "
                       "reason=\"unknown scheme or malformed secret\"",
                       f.path.c_str(), f.entry->line, user);
            return MODPOP3D_E_PERM;
        default:
            return v;
        }
    }

    int32_t lookup(modpop3d_session *s, const char *user, const char *scheme,
                   modpop3d_auth_result *res)
    {
        const std::string_view want(scheme);
        if (want != "PLAIN" && want != "SCRAM-SHA-256")
            return MODPOP3D_E_NOTSUP;
        Found f;
        const int32_t st = find(s, user, f);
        if (st != MODPOP3D_OK)
            return st;
        const std::string &secret = f.entry->secret;
        std::string password;
        if (want == "PLAIN") {
            for (std::string_view p : {"{PLAIN}", "{PLAINTEXT}", "{CLEARTEXT}"})
                if (istarts_with(secret, p) && secret.size() > p.size())
                    password = "{PLAIN}" + secret.substr(p.size());
        } else if (istarts_with(secret, "{SCRAM-SHA-256}")) {
            password = "{SCRAM-SHA-256}" + secret.substr(15);
        }
        if (password.empty())
            return MODPOP3D_E_NOTSUP;
        const int32_t r = set_result(s, res, user, *f.entry);
        if (r != MODPOP3D_OK)
            return r;
        return host_->result_set(res, "password", password.c_str()) == MODPOP3D_OK
                   ? MODPOP3D_OK
                   : MODPOP3D_E_INTERNAL;
    }

  private:
    struct Found {
        std::shared_ptr<const Table> table; // keeps `entry` alive
        const Entry *entry = nullptr;
        std::string path;
    };

    // expand - host->expand into a string; nullopt when a value is refused.
    std::optional<std::string> expand(const modpop3d_session *s, const std::string &tmpl) const
    {
        std::string buf(256, '\0');
        for (int attempt = 0; attempt < 3; ++attempt) {
            std::size_t need = 0;
            const int32_t r =
                host_->expand(s, tmpl.c_str(), nullptr, nullptr, buf.data(), buf.size(), &need);
            if (r == MODPOP3D_OK) {
                buf.resize(std::strlen(buf.c_str()));
                return buf;
            }
            if (r != MODPOP3D_E_NOMEM || need < buf.size() || need > 65536)
                return std::nullopt;
            buf.assign(need + 1, '\0');
        }
        return std::nullopt;
    }

    int32_t find(modpop3d_session *s, const char *user, Found &f)
    {
        using modpop3d::flatfile::valid_name;
        const std::string_view login(user);
        if (!valid_name(login)) {
            host_->log(ictx_, MODPOP3D_LOG_DEBUG, "event=bad_name reason=\"not a user name\"");
            return MODPOP3D_E_NOUSER;
        }
        std::string key(login);
        if (cfg_.by_local_part) {
            const char *lp = host_->session_get(s, "local_part");
            if (lp != nullptr && *lp != '\0')
                key = lp;
            if (!valid_name(key))
                return MODPOP3D_E_NOUSER;
        }
        if (cfg_.lowercase)
            key = modpop3d::flatfile::ascii_lower(key);

        if (cfg_.is_template) {
            auto path = expand(s, cfg_.file);
            if (!path || !sane_path(*path)) {
                host_->log(ictx_, MODPOP3D_LOG_DEBUG,
                           "event=bad_name reason=\"refused in a file name\"");
                return MODPOP3D_E_NOUSER;
            }
            f.path = std::move(*path);
        } else {
            f.path = cfg_.file;
        }

        auto report = [this](const std::string &path, unsigned line, const std::string &what) {
            if (line == 0)
                host_->log(ictx_, MODPOP3D_LOG_INFO, "event=file_loaded file=%s %s", path.c_str(),
                           what.c_str());
            else
                host_->log(ictx_, MODPOP3D_LOG_WARNING,
                           "event=malformed_line where=%s:%u reason=\"%s\" action=skipped",
                           path.c_str(), line, what.c_str());
        };
        FileCache::Result r = cache_.get(f.path, host_->now_usec(), report);
        switch (r.status) {
        case FileCache::Status::ok:
            break;
        case FileCache::Status::missing:
            if (cfg_.is_template) // this domain is not ours: let the next instance answer
                return MODPOP3D_E_NOUSER;
            if (r.first_report)
                host_->log(ictx_, MODPOP3D_LOG_ERR, "event=file_error file=%s reason=\"%s\"",
                           f.path.c_str(), r.error.c_str());
            return MODPOP3D_E_TEMP;
        case FileCache::Status::error:
            if (r.first_report)
                host_->log(ictx_, MODPOP3D_LOG_ERR, "event=file_error file=%s reason=\"%s\"",
                           f.path.c_str(), r.error.c_str());
            return MODPOP3D_E_TEMP;
        }
        const auto it = r.table->users.find(key);
        if (it == r.table->users.end())
            return MODPOP3D_E_NOUSER;
        f.table = std::move(r.table);
        f.entry = &it->second;
        return MODPOP3D_OK;
    }

    int32_t set_result(modpop3d_session *s, modpop3d_auth_result *res, const char *user,
                       const Entry &e)
    {
        std::string home = e.home;
        if (home.empty() && !cfg_.home.empty()) {
            auto h = expand(s, cfg_.home);
            if (!h) {
                host_->log(ictx_, MODPOP3D_LOG_ERR,
                           "event=home_error user=\"%s\" reason=\"home template refused\"", user);
                return MODPOP3D_E_PERM;
            }
            home = std::move(*h);
        }
        const std::string name =
            cfg_.lowercase ? modpop3d::flatfile::ascii_lower(user) : std::string(user);
        const std::optional<uint32_t> uid = e.uid ? e.uid : cfg_.uid;
        const std::optional<uint32_t> gid = e.gid ? e.gid : cfg_.gid;
        const std::string &mailbox = e.mailbox.empty() ? cfg_.default_mailbox : e.mailbox;

        bool ok = host_->result_set(res, "user", name.c_str()) == MODPOP3D_OK;
        if (uid)
            ok = ok && host_->result_set(res, "uid", std::to_string(*uid).c_str()) == MODPOP3D_OK;
        if (gid)
            ok = ok && host_->result_set(res, "gid", std::to_string(*gid).c_str()) == MODPOP3D_OK;
        if (!home.empty())
            ok = ok && host_->result_set(res, "home", home.c_str()) == MODPOP3D_OK;
        ok = ok && host_->result_set(res, "mailbox", mailbox.c_str()) == MODPOP3D_OK;
        return ok ? MODPOP3D_OK : MODPOP3D_E_INTERNAL;
    }

    const modpop3d_host *host_;
    modpop3d_ictx *ictx_;
    const Config cfg_;
    FileCache cache_;
};

int32_t ff_conf_check(const modpop3d_host *host, const modpop3d_conf *conf) noexcept
{
    return modpop3d::guard(host, nullptr, [&] {
        Config c;
        bool ok = read_config(host, conf, c);
        ok = ok && check_files(host, conf, c);
        return ok ? MODPOP3D_OK : MODPOP3D_E_CONFIG;
    });
}

int32_t ff_instance_new(const modpop3d_host *host, const modpop3d_conf *conf, modpop3d_ictx *ictx,
                        void **ret_inst) noexcept
{
    return modpop3d::guard(host, ictx, [&] {
        Config c;
        if (!read_config(host, conf, c))
            return MODPOP3D_E_CONFIG;
        *ret_inst = new Instance(host, ictx, std::move(c));
        return MODPOP3D_OK;
    });
}

void ff_instance_free(void *inst) noexcept
{
    auto *i = static_cast<Instance *>(inst);
    if (i != nullptr)
        modpop3d::guard_void(i->host(), i->ictx(), [&] { delete i; });
}

int32_t ff_verify_plain(void *inst, modpop3d_session *session, const char *user, const char *pass,
                        size_t pass_len, modpop3d_auth_result *res) noexcept
{
    auto *i = static_cast<Instance *>(inst);
    return modpop3d::guard(i->host(), i->ictx(),
                           [&] { return i->verify(session, user, pass, pass_len, res); });
}

int32_t ff_lookup_credentials(void *inst, modpop3d_session *session, const char *user,
                              const char *scheme, modpop3d_auth_result *res) noexcept
{
    auto *i = static_cast<Instance *>(inst);
    return modpop3d::guard(i->host(), i->ictx(),
                           [&] { return i->lookup(session, user, scheme, res); });
}

const modpop3d_auth_ops auth_ops = {
    sizeof(modpop3d_auth_ops),
    MODPOP3D_AUTHC_PLAIN | MODPOP3D_AUTHC_CREDENTIALS,
    ff_verify_plain,
    ff_lookup_credentials,
    nullptr, // sasl_mechanisms
    nullptr, // sasl_step
    nullptr, // sasl_free
    nullptr, // on_login
};

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_AUTH,
    MODPOP3D_MODF_THREAD_SAFE,
    "auth_flatfile",
    "0.1.0",
    "users from passwd-format flat files (one file or one per domain)",
    conf_schema,
    sizeof(modpop3d_conf_item),
    0,
    ff_conf_check,
    ff_instance_new,
    nullptr, // process_init: files are read on first use, in the auth process
    ff_instance_free,
    &auth_ops,
};

} // namespace

// The C++ form of MODPOP3D_MODULE_DEFINE has no prior declaration, which
// -Wmissing-declarations (project warning, -Werror) rejects; declare it here.
extern "C" MODPOP3D_EXPORT const struct modpop3d_module *modpop3d_module_entry(void) noexcept;
MODPOP3D_MODULE_DEFINE(descriptor)
