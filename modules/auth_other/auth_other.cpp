// auth_other.cpp - the auth_other module: authentication by an external
// program. Two modes:
//   tpop3d         one long-lived helper speaking tpop3d's auth-other packet
//                  protocol (packet.hpp) on its stdin/stdout: PASS requests,
//                  ONLOGIN notifications; restarted when it dies, killed and
//                  restarted on a timeout or a malformed reply.
//   checkpassword  qmail's checkpassword interface, one process per login:
//                  "user\0password\0timestamp\0" on fd 3, exit status 0/1/111.
// Helpers never see credentials on argv or in the environment (both fixed).
#include "child_process.hpp"
#include "conf_util.hpp"
#include "packet.hpp"
#include "sysuser.hpp"
#include "tpop3d_reply.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <modpop3d/module.hpp>
#include <mutex>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace
{

namespace su = modpop3d::sysuser;
namespace ao = modpop3d::auth_other;
namespace cp = modpop3d::child;

constexpr const char *default_mailbox = "maildir:$(home)/Maildir bsd:/var/mail/$(user)";
// How long a helper gets to exit after SIGTERM before SIGKILL.
constexpr int term_grace_ms = 500;
// qmail's checkpassword reads at most 512 bytes from fd 3.
constexpr std::size_t max_checkpassword_data = 512;

const modpop3d_conf_item schema[] = {
    {"mode", MODPOP3D_CONF_ENUM, 0, "tpop3d",
     "Protocol: tpop3d (auth-other packets) or checkpassword (qmail).", "tpop3d|checkpassword", 0,
     0},
    {"program", MODPOP3D_CONF_PATH, MODPOP3D_CONFF_REQUIRED, nullptr,
     "Absolute path of the helper program, executed without a shell.", nullptr, 0, 0},
    {"user", MODPOP3D_CONF_STRING, 0, nullptr,
     "User (name or number) the helper runs as; needs a root auth process.", nullptr, 0, 0},
    {"group", MODPOP3D_CONF_STRING, 0, nullptr,
     "Group (name or number) the helper runs as; default: the user's primary group.", nullptr, 0,
     0},
    {"timeout", MODPOP3D_CONF_DURATION, 0, "10s",
     "Longest wait for one answer; the helper is then killed and the login fails with TEMP.",
     nullptr, 10, 300000},
    {"mailbox", MODPOP3D_CONF_TEMPLATE, 0, default_mailbox,
     "Mailbox spec list used when the helper names no mailbox.", nullptr, 0, 0},
    {"min-uid", MODPOP3D_CONF_INT, 0, "1000",
     "Lowest uid a login may map to; uid 0 is always refused.", nullptr, 1, 4294967294LL},
    {"mail-user", MODPOP3D_CONF_STRING, 0, nullptr,
     "checkpassword mode: account whose uid, gid and home every login gets.", nullptr, 0, 0},
    {"onlogin", MODPOP3D_CONF_BOOL, 0, "yes",
     "tpop3d mode: send the ONLOGIN notification after each login.", nullptr, 0, 0},
    {nullptr, 0, 0, nullptr, nullptr, nullptr, 0, 0},
};

enum class Mode { tpop3d, checkpassword };

// One running tpop3d-mode helper.
struct Helper {
    pid_t pid = -1;
    int wr = -1; // its stdin
    int rd = -1; // its stdout
    bool running() const { return pid > 0; }
};

struct Instance {
    const modpop3d_host *host = nullptr;
    modpop3d_ictx *ictx = nullptr;
    Mode mode = Mode::tpop3d;
    std::string program;
    std::string user;
    std::string group;
    int64_t timeout_ms = 10000;
    std::string mailbox;
    int64_t min_uid = 1000;
    std::string mail_user;
    bool onlogin = true;

    // One request at a time per instance: the helper is a single pipe pair.
    std::mutex mu;
    Helper helper;
    pid_t owner = 0; // the process that started `helper`
    unsigned spawns = 0;

    ~Instance() { stop_helper(); }

    uint64_t deadline() const { return cp::now_us() + static_cast<uint64_t>(timeout_ms) * 1000u; }

    void stop_helper()
    {
        // After a fork the helper belongs to the parent: only close our fds.
        if (helper.wr >= 0)
            close(helper.wr);
        if (helper.rd >= 0)
            close(helper.rd);
        if (helper.running() && owner == getpid())
            cp::terminate(helper.pid, term_grace_ms);
        helper = Helper{};
    }
};

// Secret - a string wiped before its memory is released.
struct Secret {
    std::string s;
    ~Secret() { explicit_bzero(s.data(), s.size()); }
};

// identity - who helpers run as (child_process.hpp's rule: never root).
bool identity(Instance &in, cp::Identity &id)
{
    std::string why;
    if (cp::resolve_identity(in.user, in.group, id, why))
        return true;
    in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=helper_error reason=\"%s\"", why.c_str());
    return false;
}

// start_helper - spawn the tpop3d-mode helper with pipes on its stdin/stdout.
bool start_helper(Instance &in)
{
    cp::SpawnSpec spec;
    spec.program = in.program;
    if (!identity(in, spec.id))
        return false;
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0)
        return false;
    if (pipe2(from_child, O_CLOEXEC) != 0) {
        close(to_child[0]);
        close(to_child[1]);
        return false;
    }
    spec.fd0 = to_child[0];
    spec.fd1 = from_child[1];
    int err = 0;
    const pid_t pid = cp::spawn(spec, err);
    close(to_child[0]);
    close(from_child[1]);
    if (pid < 0) {
        close(to_child[1]);
        close(from_child[0]);
        in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=helper_error call=fork error=\"%s\"",
                     strerror(err));
        return false;
    }
    fcntl(to_child[1], F_SETFL, O_NONBLOCK);
    fcntl(from_child[0], F_SETFL, O_NONBLOCK);
    in.helper = Helper{pid, to_child[1], from_child[0]};
    in.owner = getpid();
    ++in.spawns;
    in.host->log(in.ictx, MODPOP3D_LOG_INFO, "event=helper_started pid=%d program=\"%s\"",
                 static_cast<int>(pid), su::printable(in.program, 200).c_str());
    return true;
}

// ensure_helper - a live helper, started now if needed (lazily, and again
// after it died).
bool ensure_helper(Instance &in)
{
    if (in.helper.running() && in.owner != getpid()) {
        in.stop_helper(); // inherited over fork: the parent's, not ours
    } else if (in.helper.running() && cp::reap_if_exited(in.helper.pid)) {
        in.host->log(in.ictx, MODPOP3D_LOG_WARNING, "event=helper_exited pid=%d",
                     static_cast<int>(in.helper.pid));
        in.helper.pid = -1; // reaped already
        in.stop_helper();
    }
    if (in.helper.running()) {
        // Stale bytes from an earlier reply mean we are out of step.
        const long stale = cp::drain(in.helper.rd);
        if (stale != 0) {
            in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=helper_protocol_error reason=\"%s\"",
                         stale < 0 ? "helper closed its output"
                                   : "unexpected bytes between replies");
            in.stop_helper();
        }
    }
    return in.helper.running() || start_helper(in);
}

enum class Exchange { ok, dead, timeout, malformed, error };

// exchange_once - send one request packet and read one reply.
Exchange exchange_once(Instance &in, const std::string &request, ao::Decoder &reply)
{
    const uint64_t deadline = in.deadline();
    switch (cp::write_all(in.helper.wr, request.data(), request.size(), deadline)) {
    case cp::Io::ok:
        break;
    case cp::Io::closed:
        return Exchange::dead;
    case cp::Io::timeout:
        return Exchange::timeout;
    case cp::Io::error:
        return Exchange::error;
    }
    char buf[1024];
    while (reply.state() == ao::Decoder::State::need_more) {
        std::size_t got = 0;
        switch (cp::read_some(in.helper.rd, buf, sizeof buf, got, deadline)) {
        case cp::Io::ok:
            reply.feed(buf, got);
            break;
        case cp::Io::closed:
            return reply.bytes() == 0 ? Exchange::dead : Exchange::malformed;
        case cp::Io::timeout:
            return Exchange::timeout;
        case cp::Io::error:
            return Exchange::error;
        }
    }
    return reply.state() == ao::Decoder::State::done ? Exchange::ok : Exchange::malformed;
}

// transact - one request/reply with the helper, under in.mu. A helper found
// dead before it answered anything is restarted and asked once more (it
// may have died between requests); every other failure kills it, so the
// next request starts a fresh one. False means TEMP.
bool transact(Instance &in, const ao::Pairs &pairs, ao::Decoder &reply)
{
    Secret request;
    if (!ao::encode(pairs, request.s))
        return false;
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (!ensure_helper(in))
            return false;
        reply = ao::Decoder{};
        const Exchange ex = exchange_once(in, request.s, reply);
        if (ex == Exchange::ok)
            return true;
        const char *what = ex == Exchange::dead        ? "helper died before answering"
                           : ex == Exchange::timeout   ? "timed out"
                           : ex == Exchange::malformed ? reply.error()
                                                       : strerror(errno);
        in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=helper_failure pid=%d reason=\"%s\"",
                     static_cast<int>(in.helper.pid), what);
        in.stop_helper();
        if (ex != Exchange::dead)
            return false;
    }
    return false;
}

// log_helper_message - a helper's logmsg, bounded and sanitised.
void log_helper_message(const Instance &in, const ao::Decoder &reply)
{
    if (const std::string *msg = reply.find("logmsg"))
        in.host->log(in.ictx, MODPOP3D_LOG_INFO, "event=helper_message text=\"%s\"",
                     su::printable(*msg, 200).c_str());
}

// accept_reply - turn a result=YES reply into the auth result.
int32_t accept_reply(Instance &in, const char *user, const ao::Decoder &reply,
                     modpop3d_auth_result *res)
{
    return modpop3d::tpop3d::accept_yes(
        in.host, in.ictx, "helper", in.min_uid, in.mailbox, user,
        [&](const char *key) { return reply.find(key); }, res);
}

// session_pairs - the request keys describing the session (tpop3d names).
void session_pairs(const Instance &in, modpop3d_session *session, ao::Pairs &pairs)
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

int32_t verify_tpop3d(Instance &in, modpop3d_session *session, const char *user,
                      const std::string &pass, modpop3d_auth_result *res)
{
    ao::Pairs pairs{{"method", "PASS"}, {"user", user}};
    session_pairs(in, session, pairs);
    pairs.emplace_back("pass", pass);
    std::string probe;
    if (!ao::encode(pairs, probe)) {
        // Too long for a 4096-byte packet: cannot be anyone's password here.
        explicit_bzero(probe.data(), probe.size());
        (void)in.host->password_dummy_verify(pass.data(), pass.size());
        return MODPOP3D_E_BADPASS;
    }
    explicit_bzero(probe.data(), probe.size());

    std::lock_guard lock(in.mu);
    ao::Decoder reply;
    const bool ok = transact(in, pairs, reply);
    explicit_bzero(pairs.back().second.data(), pairs.back().second.size());
    if (!ok)
        return MODPOP3D_E_TEMP;
    log_helper_message(in, reply);
    const std::string *result = reply.find("result");
    if (result == nullptr) {
        in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=helper_bad_reply key=result");
        in.stop_helper();
        return MODPOP3D_E_TEMP;
    }
    if (*result == "YES")
        return accept_reply(in, user, reply, res);
    if (*result == "NO")
        return MODPOP3D_E_BADPASS;
    // modpop3d extensions, so a helper can let the chain go on or report
    // its own backend outage.
    if (*result == "NOUSER")
        return MODPOP3D_E_NOUSER;
    if (*result == "TEMP")
        return MODPOP3D_E_TEMP;
    in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=helper_bad_reply key=result value=\"%s\"",
                 su::printable(*result).c_str());
    in.stop_helper();
    return MODPOP3D_E_TEMP;
}

// checkpassword_account - uid/gid/home for a login accepted by checkpassword:
// the mail-user's when configured, else the login name's own passwd entry.
int32_t checkpassword_account(Instance &in, const char *user, su::Account &acct)
{
    int err = 0;
    const su::Found f = in.mail_user.empty() ? su::by_name(user, acct, err)
                                             : su::user_spec(in.mail_user, acct, err);
    if (f == su::Found::yes) {
        if (su::uid_allowed(acct.uid, in.min_uid))
            return MODPOP3D_OK;
        in.host->log(in.ictx, MODPOP3D_LOG_ERR,
                     "event=auth_refused reason=uid_below_min_uid user=\"%s\"",
                     su::printable(user).c_str());
        return MODPOP3D_E_PERM;
    }
    in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=backend_error reason=\"%s\" user=\"%s\"",
                 f == su::Found::no ? "accepted login has no passwd entry and mail-user is unset"
                                    : strerror(err),
                 su::printable(in.mail_user.empty() ? std::string(user) : in.mail_user).c_str());
    return MODPOP3D_E_TEMP;
}

int32_t verify_checkpassword(Instance &in, const char *user, const std::string &pass,
                             modpop3d_auth_result *res)
{
    // user\0password\0timestamp\0 - the timestamp is empty: we never ask
    // checkpassword to check an APOP digest.
    Secret data;
    data.s.append(user).push_back('\0');
    data.s.append(pass).push_back('\0');
    data.s.push_back('\0');
    if (data.s.size() > max_checkpassword_data || pass.find('\0') != std::string::npos) {
        (void)in.host->password_dummy_verify(pass.data(), pass.size());
        return MODPOP3D_E_BADPASS;
    }

    std::lock_guard lock(in.mu);
    cp::SpawnSpec spec;
    spec.program = in.program;
    spec.args = {"/bin/true"};
    if (!identity(in, spec.id))
        return MODPOP3D_E_TEMP;
    int cred[2], out[2];
    if (pipe2(cred, O_CLOEXEC) != 0)
        return MODPOP3D_E_TEMP;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(cred[0]);
        close(cred[1]);
        return MODPOP3D_E_TEMP;
    }
    spec.fd3 = cred[0];
    spec.fd1 = out[1];
    int err = 0;
    const pid_t pid = cp::spawn(spec, err);
    close(cred[0]);
    close(out[1]);
    if (pid < 0) {
        close(cred[1]);
        close(out[0]);
        in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=helper_error call=fork error=\"%s\"",
                     strerror(err));
        return MODPOP3D_E_TEMP;
    }
    fcntl(cred[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    const uint64_t deadline = in.deadline();
    // The program may exit without reading: a closed pipe is not an error.
    const cp::Io wr = cp::write_all(cred[1], data.s.data(), data.s.size(), deadline);
    close(cred[1]);
    // Its stdout closes when it (and whatever it exec'd) exits; what it
    // prints is discarded.
    cp::Io rd = cp::Io::ok;
    char sink[512];
    for (std::size_t got = 0, total = 0; rd == cp::Io::ok && total < (1u << 20); total += got)
        rd = cp::read_some(out[0], sink, sizeof sink, got, deadline);
    close(out[0]);
    int status = 0;
    const int w =
        rd == cp::Io::timeout || wr == cp::Io::timeout ? 0 : cp::wait_exit(pid, deadline, status);
    if (w != 1) {
        if (w == 0) {
            cp::terminate(pid, term_grace_ms);
            in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=helper_failure reason=\"timed out\"");
        }
        return MODPOP3D_E_TEMP;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        su::Account acct;
        const int32_t rc = checkpassword_account(in, user, acct);
        if (rc != MODPOP3D_OK)
            return rc;
        return su::set_common(in.host, res, user, acct.uid, acct.gid, acct.home, in.mailbox);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
        return MODPOP3D_E_BADPASS;
    // 111 is "temporary problem", 2 "misuse"; anything else is a fault.
    in.host->log(in.ictx, MODPOP3D_LOG_ERR, "event=helper_failure %s=%d",
                 WIFEXITED(status) ? "exit" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return MODPOP3D_E_TEMP;
}

int32_t verify_plain(void *p, modpop3d_session *session, const char *user, const char *pass,
                     size_t pass_len, modpop3d_auth_result *res) noexcept
{
    auto &in = *static_cast<Instance *>(p);
    return modpop3d::guard(in.host, in.ictx, [&]() -> int32_t {
        // Virtual user names may hold '@', '%', '/' ...: the helper decides.
        // Only what cannot travel in a packet or a log line is refused here.
        bool plausible = user != nullptr && *user != '\0' && strlen(user) <= su::max_name_len;
        for (const char *c = user; plausible && *c; ++c)
            plausible = static_cast<unsigned char>(*c) >= 0x20 && *c != 0x7f;
        if (!plausible) {
            (void)in.host->password_dummy_verify(pass, pass_len);
            return MODPOP3D_E_NOUSER;
        }
        Secret pw{std::string(pass, pass_len)};
        if (pass_len == 0 || memchr(pass, 0, pass_len) != nullptr) {
            // No empty passwords (tpop3d's default), and no NUL: the
            // protocols cannot carry it.
            (void)in.host->password_dummy_verify(pass, pass_len);
            return MODPOP3D_E_BADPASS;
        }
        return in.mode == Mode::tpop3d ? verify_tpop3d(in, session, user, pw.s, res)
                                       : verify_checkpassword(in, user, pw.s, res);
    });
}

int32_t on_login(void *p, modpop3d_session *session) noexcept
{
    auto &in = *static_cast<Instance *>(p);
    return modpop3d::guard(in.host, in.ictx, [&]() -> int32_t {
        if (in.mode != Mode::tpop3d || !in.onlogin)
            return MODPOP3D_OK;
        const char *user = in.host->session_get(session, "user");
        if (user == nullptr)
            return MODPOP3D_E_INVAL;
        ao::Pairs pairs{{"method", "ONLOGIN"}, {"user", user}};
        session_pairs(in, session, pairs);
        std::lock_guard lock(in.mu);
        ao::Decoder reply;
        if (!transact(in, pairs, reply))
            return MODPOP3D_E_TEMP;
        log_helper_message(in, reply);
        return MODPOP3D_OK;
    });
}

int32_t conf_check(const modpop3d_host *host, const modpop3d_conf *conf) noexcept
{
    return modpop3d::guard(host, nullptr, [&] {
        using modpop3d::confutil::str;
        int32_t rc = MODPOP3D_OK;
        const std::string program = str(host, conf, "program");
        if (access(program.c_str(), X_OK) != 0)
            rc = host->conf_error(conf, "program", "'%s' is not an executable file: %s",
                                  su::printable(program, 200).c_str(), strerror(errno));
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
                rc = host->conf_error(conf, "user", "the helper must not run as root");
        }
        if (!group.empty() && user.empty())
            rc = host->conf_error(conf, "group", "group is only used together with user");
        else if (!group.empty() && su::group_spec(group, gid, err) == su::Found::no)
            rc =
                host->conf_error(conf, "group", "no such group '%s'", su::printable(group).c_str());
        const bool checkpw = str(host, conf, "mode", "tpop3d") == "checkpassword";
        const std::string mail_user = str(host, conf, "mail-user");
        if (!mail_user.empty() && !checkpw)
            rc =
                host->conf_error(conf, "mail-user", "mail-user is only used in checkpassword mode");
        else if (!mail_user.empty() && su::user_spec(mail_user, acct, err) == su::Found::no)
            rc = host->conf_error(conf, "mail-user", "no such user '%s'",
                                  su::printable(mail_user).c_str());
        const std::string mailbox = str(host, conf, "mailbox");
        if (mailbox.find_first_not_of(" \t") == std::string::npos)
            rc = host->conf_error(conf, "mailbox", "the mailbox spec list is empty");
        return rc;
    });
}

int32_t instance_new(const modpop3d_host *host, const modpop3d_conf *conf, modpop3d_ictx *ictx,
                     void **ret_inst) noexcept
{
    return modpop3d::guard(host, ictx, [&] {
        using modpop3d::confutil::str;
        auto inst = std::make_unique<Instance>();
        inst->host = host;
        inst->ictx = ictx;
        inst->mode = str(host, conf, "mode", "tpop3d") == "checkpassword" ? Mode::checkpassword
                                                                          : Mode::tpop3d;
        inst->program = str(host, conf, "program");
        inst->user = str(host, conf, "user");
        inst->group = str(host, conf, "group");
        inst->timeout_ms = modpop3d::confutil::integer(host, conf, "timeout", 10000);
        inst->mailbox = str(host, conf, "mailbox", default_mailbox);
        inst->min_uid = modpop3d::confutil::integer(host, conf, "min-uid", 1000);
        inst->mail_user = str(host, conf, "mail-user");
        inst->onlogin = modpop3d::confutil::boolean(host, conf, "onlogin", true);
        *ret_inst = inst.release();
        return MODPOP3D_OK;
    });
}

// process_init - nothing to start yet: the helper starts at first use, in
// the process that uses it, and a helper inherited over fork is not ours.
int32_t process_init(void *p) noexcept
{
    auto &in = *static_cast<Instance *>(p);
    return modpop3d::guard(in.host, in.ictx, [&] {
        std::lock_guard lock(in.mu);
        if (in.helper.running() && in.owner != getpid())
            in.stop_helper();
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
    nullptr, // the helper checks secrets itself and never reveals them
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
    // A helper may be slow; one helper serves one request at a time (the
    // instance mutex), so the core serialises calls for us as well.
    MODPOP3D_MODF_BLOCKING,
    "auth_other",
    "0.1.0",
    "external helper program (tpop3d auth-other protocol, qmail checkpassword)",
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
