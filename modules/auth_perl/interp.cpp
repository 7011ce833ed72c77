// interp.cpp - the embedded Perl interpreter of a helper process (see
// interp.hpp). One interpreter per process, so the plain (non-threaded)
// embedding API is used: the interpreter lives in `my_perl`, the name the
// Perl API macros expect.
#include "interp.hpp"

#include <EXTERN.h>
#include <XSUB.h>
#include <cstring>
#include <dlfcn.h>
#include <perl.h>
#include <unistd.h>

namespace
{

PerlInterpreter *my_perl = nullptr;
int log_fd = -1; // where 'L' frames go; -1 (check_script): dropped

using modpop3d::auth_perl::Pairs;

constexpr std::size_t max_log_text = 4096;

void send_log(const char *level, const char *text, std::size_t len)
{
    if (log_fd < 0)
        return;
    std::string frame;
    Pairs p{{"level", level}, {"text", std::string(text, len < max_log_text ? len : max_log_text)}};
    for (char &c : p[1].second)
        if (c == '\0')
            c = ' ';
    if (modpop3d::auth_perl::encode('L', p, frame))
        (void)modpop3d::auth_perl::send_all(log_fd, frame, 0);
}

// TPOP3D::log_print(TEXT) - tpop3d's logging function for scripts (info).
void xs_log_print(pTHX_ CV *cv)
{
    dXSARGS;
    if (items != 1)
        croak_xs_usage(cv, "text");
    STRLEN len = 0;
    const char *s = SvPV(ST(0), len);
    send_log("info", s, len);
    XSRETURN_EMPTY;
}

// modpop3d::log(LEVEL, TEXT) - LEVEL is err, warning, notice, info or debug.
void xs_log(pTHX_ CV *cv)
{
    dXSARGS;
    if (items != 2)
        croak_xs_usage(cv, "level, text");
    STRLEN llen = 0, len = 0;
    const char *level = SvPV(ST(0), llen);
    const char *s = SvPV(ST(1), len);
    static const char *const levels[] = {"err", "warning", "notice", "info", "debug"};
    const char *chosen = "info";
    for (const char *l : levels)
        if (std::strlen(l) == llen && std::memcmp(l, level, llen) == 0)
            chosen = l;
    send_log(chosen, s, len);
    XSRETURN_EMPTY;
}

extern "C" void boot_DynaLoader(pTHX_ CV *cv);

void xs_init(pTHX)
{
    // DynaLoader lets scripts `use` XS modules (DBI, Digest::MD5, POSIX).
    newXS("DynaLoader::boot_DynaLoader", boot_DynaLoader, __FILE__);
    newXS("TPOP3D::log_print", xs_log_print, __FILE__);
    newXS("TPOP3D::print_log", xs_log_print, __FILE__);
    newXS("modpop3d::log", xs_log, __FILE__);
}

// promote_libperl - XS modules (Digest/MD5.so, DBI.so) are not linked
// against libperl and expect its symbols in the global scope; the core
// loads this module (and so libperl) with RTLD_LOCAL. Re-open libperl,
// already loaded, with RTLD_GLOBAL.
void promote_libperl()
{
    Dl_info info{};
    if (dladdr(reinterpret_cast<void *>(&perl_alloc), &info) != 0 && info.dli_fname != nullptr)
        (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
}

std::string perl_error()
{
    STRLEN len = 0;
    const char *s = SvPV(ERRSV, len);
    std::string e(s, len);
    while (!e.empty() && (e.back() == '\n' || e.back() == ' '))
        e.pop_back();
    return e.empty() ? "unknown error" : e;
}

// eval_code - evaluate `code` like tpop3d's start/finish. A `do FILE`
// whose file does not compile leaves the error in $@ without dying, so the
// code is followed by "die $@ if $@" (as tpop3d looked at $@ afterwards).
bool eval_code(const std::string &what, const std::string &code, std::string &err)
{
    const std::string text = "#line 1 \"" + what + "\"\n" + code + "\n;\ndie $@ if $@;\n1;\n";
    SV *sv = newSVpvn(text.data(), text.size());
    eval_sv(sv, G_SCALAR | G_DISCARD);
    SvREFCNT_dec(sv);
    if (SvTRUE(ERRSV)) {
        err = what + " code failed: " + perl_error();
        return false;
    }
    return true;
}

bool sub_defined(const std::string &name)
{
    CV *cv = get_cv(name.c_str(), 0);
    return cv != nullptr && (CvROOT(cv) != nullptr || CvXSUB(cv) != nullptr);
}

bool start(const modpop3d::auth_perl::Script &script, std::string &err)
{
    promote_libperl();
    static char arg0[] = "modpop3d-auth_perl", arg1[] = "-e", arg2[] = "0";
    static char *args[] = {arg0, arg1, arg2, nullptr};
    int argc = 3;
    char **argv = args;
    char **env = environ;
    PERL_SYS_INIT3(&argc, &argv, &env);
    my_perl = perl_alloc();
    if (my_perl == nullptr) {
        err = "perl_alloc failed";
        return false;
    }
    perl_construct(my_perl);
    PL_exit_flags |= PERL_EXIT_DESTRUCT_END;
    if (perl_parse(my_perl, xs_init, argc, argv, nullptr) != 0 || perl_run(my_perl) != 0) {
        err = "the Perl interpreter did not start";
        return false;
    }
    // Warnings go to the log: stderr may be a client's socket (inetd mode)
    // and is /dev/null here anyway.
    eval_pv("$SIG{__WARN__} = sub { modpop3d::log('warning', join('', @_)) }; 1;", FALSE);
    if (!eval_code("start", script.start, err))
        return false;
    for (const auto &s : script.subs) {
        if (!sub_defined(s)) {
            err = "the sub '" + s + "' is not defined after the start code";
            return false;
        }
    }
    return true;
}

void finish(const modpop3d::auth_perl::Script &script)
{
    std::string err;
    if (!script.finish.empty() && !eval_code("finish", script.finish, err))
        send_log("err", err.data(), err.size());
    perl_destruct(my_perl);
    perl_free(my_perl);
    my_perl = nullptr;
}

// call - run sub `name` with a hashref of `req`; `reply` gets the returned
// hash's defined values. False with `err` on die or a malformed return.
bool call(const std::string &name, const Pairs &req, Pairs &reply, std::string &err)
{
    namespace ap = modpop3d::auth_perl;
    dSP;
    ENTER;
    SAVETMPS;
    HV *in = newHV();
    for (const auto &[k, v] : req)
        (void)hv_store(in, k.data(), static_cast<I32>(k.size()), newSVpvn(v.data(), v.size()), 0);
    SV *ref = sv_2mortal(newRV_noinc(reinterpret_cast<SV *>(in)));
    PUSHMARK(SP);
    XPUSHs(ref);
    PUTBACK;
    const int n = call_pv(name.c_str(), G_SCALAR | G_EVAL);
    SPAGAIN;
    SV *ret = n == 1 ? POPs : &PL_sv_undef;
    PUTBACK;
    bool ok = false;
    if (SvTRUE(ERRSV)) {
        err = perl_error();
    } else if (!SvROK(ret) || SvTYPE(SvRV(ret)) != SVt_PVHV) {
        err = "sub '" + name + "' did not return a hash reference";
    } else {
        HV *out = reinterpret_cast<HV *>(SvRV(ret));
        ok = true;
        hv_iterinit(out);
        for (HE *he = hv_iternext(out); he != nullptr; he = hv_iternext(out)) {
            I32 klen = 0;
            const char *k = hv_iterkey(he, &klen);
            SV *val = hv_iterval(out, he);
            if (!SvOK(val))
                continue;
            STRLEN vlen = 0;
            const char *v = SvPV(val, vlen);
            if (reply.size() >= ap::max_reply_keys) {
                err = "sub '" + name + "' returned more than " +
                      std::to_string(ap::max_reply_keys) + " keys";
                ok = false;
                break;
            }
            if (klen <= 0 || static_cast<std::size_t>(klen) > ap::max_reply_key ||
                vlen > ap::max_reply_value ||
                std::memchr(k, '\0', static_cast<std::size_t>(klen)) ||
                std::memchr(v, '\0', vlen)) {
                err = "sub '" + name + "' returned an oversized or binary key or value (key of " +
                      std::to_string(klen) + " bytes, value of " + std::to_string(vlen) +
                      " bytes; at most " + std::to_string(ap::max_reply_key) + " and " +
                      std::to_string(ap::max_reply_value) + ")";
                ok = false;
                break;
            }
            reply.emplace_back(std::string(k, static_cast<std::size_t>(klen)),
                               std::string(v, vlen));
        }
    }
    FREETMPS;
    LEAVE;
    return ok;
}

} // namespace

namespace modpop3d::auth_perl
{

bool load(const Script &script, std::string &err)
{
    return start(script, err);
}

void serve(int fd, const Script &script)
{
    log_fd = fd;
    // A fresh random sequence per helper, whatever the start code drew.
    eval_pv("srand();", FALSE);
    std::string err, frame;
    if (encode('R', {{"ready", "1"}}, frame))
        (void)send_all(fd, frame, 0);
    for (;;) {
        Frame req;
        if (recv_frame(fd, req, 0) != Io::ok || req.type != 'C' || req.pairs.empty() ||
            req.pairs.front().first != "sub")
            break;
        const std::string sub = req.pairs.front().second;
        req.pairs.erase(req.pairs.begin());
        Pairs reply;
        err.clear();
        const bool ok = call(sub, req.pairs, reply, err);
        for (auto &kv : req.pairs)
            wipe(kv.second);
        if (!ok || !encode('R', reply, frame)) {
            if (ok)
                err = "the reply does not fit in a frame";
            if (!encode('E', {{"error", err}}, frame))
                (void)encode('E', {{"error", "unprintable error"}}, frame);
        }
        if (send_all(fd, frame, 0) != Io::ok)
            break;
    }
    finish(script);
    _exit(0);
}

std::string check_script(const Script &script)
{
    std::string err;
    if (!start(script, err))
        return err;
    finish(script);
    return {};
}

} // namespace modpop3d::auth_perl
