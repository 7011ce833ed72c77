// auth_perl.cpp - the auth_perl module: user lookup by a site's Perl code,
// with tpop3d's auth-perl calling convention. `start` code is evaluated
// once per interpreter (typically `do '/etc/modpop3d/auth.pl';`), the
// `pass` sub gets one hashref with the auth-other request keys and returns
// a hashref with the reply keys, the `onlogin` sub hears of each login,
// `finish` runs when an interpreter ends.
//
// The interpreters live in helper processes (pool.hpp explains why and
// how); this file holds the configuration, the checks `modpop3d -t` runs
// (the script must compile) and the mapping between modapi calls and
// tpop3d's request/reply keys.
#include "conf_util.hpp"
#include "frame.hpp"
#include "interp.hpp"
#include "pool.hpp"
#include "sysuser.hpp"
#include "tpop3d_reply.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <modpop3d/module.hpp>
#include <poll.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace
{

namespace su = modpop3d::sysuser;
namespace ap = modpop3d::auth_perl;
using modpop3d::confutil::str;

constexpr const char *default_mailbox = "maildir:$(home)/Maildir bsd:/var/mail/$(user)";
// `modpop3d -t` waits at least this long for the start code.
constexpr int64_t min_check_ms = 10000;

const modpop3d_conf_item schema[] = {
    {"start", MODPOP3D_CONF_STRING, 0, nullptr,
     "Perl code run once in each interpreter, e.g. do '/etc/modpop3d/auth.pl';", nullptr, 0, 0},
    {"auth-perl-start", MODPOP3D_CONF_STRING, 0, nullptr, "tpop3d's name for 'start'.", nullptr, 0,
     0},
    {"finish", MODPOP3D_CONF_STRING, 0, nullptr,
     "Perl code run when an interpreter ends (recycled or shut down).", nullptr, 0, 0},
    {"auth-perl-finish", MODPOP3D_CONF_STRING, 0, nullptr, "tpop3d's name for 'finish'.", nullptr,
     0, 0},
    {"pass", MODPOP3D_CONF_STRING, 0, nullptr,
     "Name of the sub that checks USER/PASS and SASL PLAIN/LOGIN logins.", nullptr, 0, 0},
    {"auth-perl-pass", MODPOP3D_CONF_STRING, 0, nullptr, "tpop3d's name for 'pass'.", nullptr, 0,
     0},
    {"apop", MODPOP3D_CONF_STRING, 0, nullptr,
     "Name of tpop3d's APOP sub: checked to exist, never called (see the man page).", nullptr, 0,
     0},
    {"auth-perl-apop", MODPOP3D_CONF_STRING, 0, nullptr, "tpop3d's name for 'apop'.", nullptr, 0,
     0},
    {"onlogin", MODPOP3D_CONF_STRING, 0, nullptr,
     "Name of the sub told of each login (POP-before-SMTP, bulletins).", nullptr, 0, 0},
    {"auth-perl-onlogin", MODPOP3D_CONF_STRING, 0, nullptr, "tpop3d's name for 'onlogin'.", nullptr,
     0, 0},
    {"user", MODPOP3D_CONF_STRING, 0, nullptr,
     "User (name or number) the interpreters run as; required when the auth process is root.",
     nullptr, 0, 0},
    {"group", MODPOP3D_CONF_STRING, 0, nullptr,
     "Group the interpreters run as; default: the user's primary group.", nullptr, 0, 0},
    {"timeout", MODPOP3D_CONF_DURATION, 0, "5s",
     "Longest a sub (or the start code) may run; the helper is then killed and the login gets "
     "TEMP.",
     nullptr, 10, 300000},
    {"helpers", MODPOP3D_CONF_INT, 0, "4",
     "Most helper processes (interpreters) running at once: calls in parallel.", nullptr, 1, 64},
    {"max-use", MODPOP3D_CONF_INT, 0, "1000",
     "Calls one interpreter answers before it is replaced by a fresh one (bounds leaks).", nullptr,
     1, 100000000},
    {"mailbox", MODPOP3D_CONF_TEMPLATE, 0, default_mailbox,
     "Mailbox spec list used when the sub names no mailbox.", nullptr, 0, 0},
    {"min-uid", MODPOP3D_CONF_INT, 0, "1000",
     "Lowest uid a login may map to; uid 0 is always refused.", nullptr, 1, 4294967294LL},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

// code_key - `key` or its tpop3d alias "auth-perl-KEY", whichever is set.
std::string code_key(const modpop3d_host *host, const modpop3d_conf *conf, const char *key)
{
    const std::string v = str(host, conf, key);
    return v.empty() ? str(host, conf, (std::string("auth-perl-") + key).c_str()) : v;
}

bool valid_sub_name(const std::string &s)
{
    if (s.empty() || s.size() > 200 || !(isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_'))
        return false;
    for (unsigned char c : s)
        if (!(isalnum(c) || c == '_' || c == ':'))
            return false;
    return true;
}

struct Instance {
    const modpop3d_host *host = nullptr;
    modpop3d_ictx *ictx = nullptr;
    ap::Script script;
    std::string pass_sub, apop_sub, onlogin_sub;
    std::string user, group;
    std::string mailbox;
    int64_t min_uid = 1000;
    ap::PoolOptions pool_opt;
    std::unique_ptr<ap::Pool> pool;
};

// identity - who the interpreters run as in this process: never root.
// Unset `user` keeps the process's own ids (the auth process normally runs
// as mail-user); switching needs a root process.
bool identity(const std::string &user, const std::string &group, ap::Identity &id, std::string &why)
{
    const bool root = geteuid() == 0;
    if (user.empty()) {
        if (root)
            why = "refusing to run Perl as root: set user";
        return !root;
    }
    su::Account acct;
    int err = 0;
    if (su::user_spec(user, acct, err) != su::Found::yes) {
        why = "unknown user '" + su::printable(user) + "'";
        return false;
    }
    gid_t gid = acct.gid;
    if (!group.empty() && su::group_spec(group, gid, err) != su::Found::yes) {
        why = "unknown group '" + su::printable(group) + "'";
        return false;
    }
    if (acct.uid == 0) {
        why = "user is root";
        return false;
    }
    if (!root) {
        if (acct.uid != geteuid() || gid != getegid()) {
            why = "switching to user/group needs a root auth process";
            return false;
        }
        return true;
    }
    id = ap::Identity{true, acct.uid, gid};
    return true;
}

// check_identity - who `modpop3d -t` (and a reload) compiles the script
// as: `user` when set, else, as root, nobody (the auth process will not be
// root either), else ourselves.
ap::Identity check_identity(const std::string &user, const std::string &group)
{
    if (geteuid() != 0)
        return {};
    su::Account acct;
    int err = 0;
    ap::Identity id{true, 65534, 65534};
    if (su::user_spec(user.empty() ? std::string("nobody") : user, acct, err) == su::Found::yes &&
        acct.uid != 0)
        id = ap::Identity{true, acct.uid, acct.gid};
    gid_t gid = 0;
    if (!group.empty() && su::group_spec(group, gid, err) == su::Found::yes)
        id.gid = gid;
    return id;
}

// compile_check - run the start code and look for the subs in a throw-away
// process with the helpers' identity. Empty on success, else the error.
std::string compile_check(const ap::Script &script, const ap::Identity &id, int64_t limit_ms)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return std::string("pipe: ") + strerror(errno);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
        const int out = ap::sanitize_child(p[1], parent);
        if (!ap::drop_identity(id)) {
            static const char msg[] = "cannot drop privileges for the check";
            (void)!write(out, msg, sizeof msg - 1);
            _exit(1);
        }
        const std::string err = ap::check_script(script);
        for (std::size_t off = 0; off < err.size();) {
            const ssize_t n = write(out, err.data() + off, err.size() - off);
            if (n <= 0)
                break;
            off += static_cast<std::size_t>(n);
        }
        _exit(err.empty() ? 0 : 1);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return std::string("fork: ") + strerror(errno);
    }
    std::string err;
    const uint64_t deadline = ap::now_us() + static_cast<uint64_t>(limit_ms) * 1000u;
    bool timed_out = false;
    for (;;) {
        const uint64_t now = ap::now_us();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        pollfd pf{p[0], POLLIN, 0};
        if (poll(&pf, 1, static_cast<int>((deadline - now) / 1000 + 1)) <= 0)
            continue;
        char buf[1024];
        const ssize_t n = read(p[0], buf, sizeof buf);
        if (n > 0 && err.size() < 8192)
            err.append(buf, static_cast<std::size_t>(n));
        else if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
    close(p[0]);
    int status = 0;
    if (timed_out)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out)
        return "the start code did not finish within " + std::to_string(limit_ms) + "ms";
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return {};
    return err.empty() ? "the check process failed (status " + std::to_string(status) + ")" : err;
}

int32_t conf_check(const modpop3d_host *host, const modpop3d_conf *conf) noexcept
{
    return modpop3d::guard(host, nullptr, [&] {
        int32_t rc = MODPOP3D_OK;
        for (const char *k : {"start", "finish", "pass", "apop", "onlogin"}) {
            const std::string alias = std::string("auth-perl-") + k;
            if (!str(host, conf, k).empty() && !str(host, conf, alias.c_str()).empty())
                rc = host->conf_error(conf, alias.c_str(), "give either '%s' or '%s', not both", k,
                                      alias.c_str());
        }
        const std::string start = code_key(host, conf, "start");
        if (start.find_first_not_of(" \t") == std::string::npos)
            rc = host->conf_error(conf, nullptr,
                                  "'start' (tpop3d: auth-perl-start) is required, e.g. "
                                  "start: do '/etc/modpop3d/auth.pl';");
        ap::Script script{start, code_key(host, conf, "finish"), {}};
        bool any_sub = false;
        for (const char *k : {"pass", "apop", "onlogin"}) {
            const std::string name = code_key(host, conf, k);
            if (name.empty())
                continue;
            any_sub = true;
            const std::string key =
                str(host, conf, k).empty() ? std::string("auth-perl-") + k : std::string(k);
            if (!valid_sub_name(name))
                rc = host->conf_error(conf, key.c_str(), "'%s' is not a Perl sub name",
                                      su::printable(name).c_str());
            else
                script.subs.push_back(name);
        }
        if (!any_sub)
            rc = host->conf_error(conf, nullptr, "name at least one of the subs pass, onlogin");
        const std::string user = str(host, conf, "user");
        const std::string group = str(host, conf, "group");
        su::Account acct;
        gid_t gid = 0;
        int err = 0;
        if (!user.empty()) {
            const su::Found f = su::user_spec(user, acct, err);
            if (f == su::Found::no)
                rc = host->conf_error(conf, "user", "no such user '%s'",
                                      su::printable(user).c_str());
            else if (f == su::Found::yes && acct.uid == 0)
                rc = host->conf_error(conf, "user", "Perl must not run as root");
        }
        if (!group.empty() && su::group_spec(group, gid, err) == su::Found::no)
            rc =
                host->conf_error(conf, "group", "no such group '%s'", su::printable(group).c_str());
        if (str(host, conf, "mailbox").find_first_not_of(" \t") == std::string::npos)
            rc = host->conf_error(conf, "mailbox", "the mailbox spec list is empty");
        if (rc != MODPOP3D_OK)
            return rc;
        // The script must compile, its start code succeed and the subs
        // exist, or the configuration (and a reload) is refused.
        const int64_t limit =
            std::max(min_check_ms, modpop3d::confutil::integer(host, conf, "timeout", 5000));
        const std::string why = compile_check(script, check_identity(user, group), limit);
        if (!why.empty()) {
            const char *key = str(host, conf, "start").empty() ? "auth-perl-start" : "start";
            rc = host->conf_error(conf, key, "%s", su::printable(why, 2000).c_str());
        }
        return rc;
    });
}

// session_pairs - the request keys describing the session (tpop3d names).
void session_pairs(const Instance &in, modpop3d_session *session, ap::Pairs &pairs)
{
    static const char *const map[][2] = {{"local_part", "local_part"},
                                         {"domain", "domain"},
                                         {"clienthost", "client_ip"},
                                         {"serverhost", "local_ip"}};
    for (const auto &m : map) {
        const char *v = session ? in.host->session_get(session, m[1]) : nullptr;
        if (v != nullptr && *v != '\0')
            pairs.emplace_back(m[0], v);
    }
}

const std::string *find(const ap::Pairs &pairs, const char *key)
{
    for (const auto &kv : pairs)
        if (kv.first == key)
            return &kv.second;
    return nullptr;
}

// run - one call through the pool; false (TEMP) when it failed, logged.
bool run(Instance &in, const std::string &sub, const ap::Pairs &req, ap::Pairs &reply,
         const std::string &redact = {})
{
    std::string why;
    const ap::Pool::Result r =
        in.pool ? in.pool->call(sub, req, reply, why, redact) : ap::Pool::Result::failed;
    if (r == ap::Pool::Result::ok) {
        if (const std::string *msg = find(reply, "logmsg"))
            in.host->log(in.ictx, MODPOP3D_LOG_INFO, "event=perl_message sub=%s text=\"%s\"",
                         sub.c_str(), su::printable(*msg, 500).c_str());
        return true;
    }
    if (!in.pool)
        why = "the Perl helpers are not running in this process";
    in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=%s sub=%s error=\"%s\"",
                 r == ap::Pool::Result::perl_error ? "perl_error" : "perl_failure", sub.c_str(),
                 su::printable(why, 1000).c_str());
    return false;
}

// accept_reply - turn a result=YES reply into the auth result.
int32_t accept_reply(Instance &in, const char *user, const ap::Pairs &reply,
                     modpop3d_auth_result *res)
{
    return modpop3d::tpop3d::accept_yes(
        in.host, in.ictx, "perl", in.min_uid, in.mailbox, user,
        [&](const char *key) { return find(reply, key); }, res);
}

int32_t verify_plain(void *p, modpop3d_session *session, const char *user, const char *pass,
                     size_t pass_len, modpop3d_auth_result *res) noexcept
{
    auto &in = *static_cast<Instance *>(p);
    return modpop3d::guard(in.host, in.ictx, [&]() -> int32_t {
        bool plausible = in.pass_sub.size() > 0 && user != nullptr && *user != '\0' &&
                         strlen(user) <= su::max_name_len;
        for (const char *c = user; plausible && *c; ++c)
            plausible = static_cast<unsigned char>(*c) >= 0x20 && *c != 0x7f;
        if (!plausible) {
            (void)in.host->password_dummy_verify(pass, pass_len);
            return MODPOP3D_E_NOUSER;
        }
        if (pass_len == 0 || memchr(pass, 0, pass_len) != nullptr) {
            (void)in.host->password_dummy_verify(pass, pass_len);
            return MODPOP3D_E_BADPASS;
        }
        ap::Pairs req{{"method", "PASS"}, {"user", user}};
        session_pairs(in, session, req);
        req.emplace_back("pass", std::string(pass, pass_len));
        std::string secret(pass, pass_len);
        ap::Pairs reply;
        const bool ok = run(in, in.pass_sub, req, reply, secret);
        ap::wipe(req.back().second);
        ap::wipe(secret);
        if (!ok)
            return MODPOP3D_E_TEMP;
        const std::string *result = find(reply, "result");
        if (result == nullptr) {
            in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=perl_bad_reply key=result");
            return MODPOP3D_E_TEMP;
        }
        if (*result == "YES")
            return accept_reply(in, user, reply, res);
        if (*result == "NO")
            return MODPOP3D_E_BADPASS;
        // modpop3d extensions (as in auth_other): let the chain go on, or
        // report the script's own backend outage.
        if (*result == "NOUSER")
            return MODPOP3D_E_NOUSER;
        if (*result == "TEMP")
            return MODPOP3D_E_TEMP;
        in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=perl_bad_reply key=result value=\"%s\"",
                     su::printable(*result).c_str());
        return MODPOP3D_E_TEMP;
    });
}

int32_t on_login(void *p, modpop3d_session *session) noexcept
{
    auto &in = *static_cast<Instance *>(p);
    return modpop3d::guard(in.host, in.ictx, [&]() -> int32_t {
        if (in.onlogin_sub.empty())
            return MODPOP3D_OK;
        const char *user = in.host->session_get(session, "user");
        if (user == nullptr)
            return MODPOP3D_E_INVAL;
        ap::Pairs req{{"method", "ONLOGIN"}, {"user", user}};
        session_pairs(in, session, req);
        ap::Pairs reply;
        // The return value is ignored but for logmsg, as in tpop3d.
        return run(in, in.onlogin_sub, req, reply) ? MODPOP3D_OK : MODPOP3D_E_TEMP;
    });
}

int32_t instance_new(const modpop3d_host *host, const modpop3d_conf *conf, modpop3d_ictx *ictx,
                     void **ret_inst) noexcept
{
    return modpop3d::guard(host, ictx, [&] {
        using modpop3d::confutil::integer;
        auto inst = std::make_unique<Instance>();
        inst->host = host;
        inst->ictx = ictx;
        inst->pass_sub = code_key(host, conf, "pass");
        inst->apop_sub = code_key(host, conf, "apop");
        inst->onlogin_sub = code_key(host, conf, "onlogin");
        inst->script =
            ap::Script{code_key(host, conf, "start"), code_key(host, conf, "finish"), {}};
        for (const auto *s : {&inst->pass_sub, &inst->apop_sub, &inst->onlogin_sub})
            if (!s->empty())
                inst->script.subs.push_back(*s);
        inst->user = str(host, conf, "user");
        inst->group = str(host, conf, "group");
        inst->mailbox = str(host, conf, "mailbox", default_mailbox);
        inst->min_uid = integer(host, conf, "min-uid", 1000);
        inst->pool_opt.timeout_ms = integer(host, conf, "timeout", 5000);
        inst->pool_opt.max_helpers = static_cast<unsigned>(integer(host, conf, "helpers", 4));
        inst->pool_opt.max_use = static_cast<unsigned>(integer(host, conf, "max-use", 1000));
        if (!inst->apop_sub.empty())
            host->log(ictx, MODPOP3D_LOG_NOTICE,
                      "event=apop_sub_unused sub=%s reason=\"modapi v1 gives auth modules no "
                      "APOP digest to check; APOP is not offered by this instance\"",
                      inst->apop_sub.c_str());
        *ret_inst = inst.release();
        return MODPOP3D_OK;
    });
}

// process_init - start the spawner in the auth process (before its thread
// pool exists, so the fork copies a single-threaded process).
int32_t process_init(void *p) noexcept
{
    auto &in = *static_cast<Instance *>(p);
    return modpop3d::guard(in.host, in.ictx, [&] {
        in.pool.reset();
        std::string why;
        ap::PoolOptions opt = in.pool_opt;
        opt.script = in.script;
        if (!identity(in.user, in.group, opt.id, why)) {
            in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=perl_not_started reason=\"%s\"",
                         why.c_str());
            return MODPOP3D_E_PERM;
        }
        const modpop3d_host *host = in.host;
        const modpop3d_ictx *ictx = in.ictx;
        auto pool = std::make_unique<ap::Pool>(opt, [host, ictx](int level, const std::string &t) {
            host->log(ictx, level, "event=perl_log text=\"%s\"", su::printable(t, 1000).c_str());
        });
        // A start code failing here (the file changed since the check, a
        // database down) must not take the whole auth process, and so the
        // other modules' logins, down: this instance answers TEMP and the
        // pool tries again.
        if (!pool->start(why))
            in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                         "event=perl_not_started reason=\"%s\" retry_in_ms=5000",
                         su::printable(why, 1000).c_str());
        in.pool = std::move(pool);
        return MODPOP3D_OK;
    });
}

void instance_free(void *p) noexcept
{
    auto *in = static_cast<Instance *>(p);
    modpop3d::guard_void(in->host, in->ictx, [&] { delete in; });
}

const modpop3d_auth_ops ops = {
    sizeof(modpop3d_auth_ops),
    MODPOP3D_AUTHC_PLAIN,
    verify_plain,
    nullptr, // tpop3d's subs answer YES/NO and never reveal a secret
    nullptr,
    nullptr,
    nullptr,
    on_login,
};

const modpop3d_module descriptor = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_AUTH,
    // Calls block (a script may be slow) but run in parallel: each call
    // borrows its own helper process from the pool.
    MODPOP3D_MODF_BLOCKING | MODPOP3D_MODF_THREAD_SAFE,
    "auth_perl",
    "0.1.0",
    "embedded Perl (tpop3d auth-perl convention) in helper processes",
    schema,
    sizeof(modpop3d_conf_item),
    0,
    conf_check,
    instance_new,
    process_init,
    instance_free,
    &ops,
};

} // namespace

MODPOP3D_MODULE_DEFINE(descriptor)
