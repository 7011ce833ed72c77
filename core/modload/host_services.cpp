// host_services.cpp - the service table modules call (modapi host.h).
//
// Every service is noexcept and catches whatever the core's C++ throws, so
// that no exception ever unwinds into module code.
#include "modload/host_services.hpp"

#include "password/password.hpp"
#include "util/expand.hpp"
#include "util/log.hpp"

#include <cerrno>
#include <charconv>
#include <cstdarg>
#include <cstring>
#include <ctime>
#include <sys/random.h>

namespace modpop3d::modload
{

namespace
{

__attribute__((format(printf, 3, 0))) void svc_vlog(const modpop3d_ictx *ictx, int32_t level,
                                                    const char *fmt, va_list ap) noexcept
{
    try {
        log::vwritef(level, ictx ? std::string_view(ictx->label) : std::string_view("module"), fmt,
                     ap);
    } catch (...) {
    }
}

__attribute__((format(printf, 3, 4))) void svc_log(const modpop3d_ictx *ictx, int32_t level,
                                                   const char *fmt, ...) noexcept
{
    va_list ap;
    va_start(ap, fmt);
    svc_vlog(ictx, level, fmt, ap);
    va_end(ap);
}

int32_t svc_conf_str(const modpop3d_conf *conf, const char *key, const char **ret) noexcept
{
    if (conf == nullptr || key == nullptr || ret == nullptr)
        return MODPOP3D_E_INVAL;
    const std::string *v = conf->effective.get(key);
    if (v == nullptr)
        return MODPOP3D_E_NOENT;
    *ret = v->c_str();
    return MODPOP3D_OK;
}

int32_t svc_conf_int(const modpop3d_conf *conf, const char *key, int64_t *ret) noexcept
{
    if (conf == nullptr || key == nullptr || ret == nullptr)
        return MODPOP3D_E_INVAL;
    auto it = conf->effective.numbers.find(key);
    if (it == conf->effective.numbers.end() || conf->effective.get(key) == nullptr)
        return MODPOP3D_E_NOENT;
    *ret = it->second;
    return MODPOP3D_OK;
}

int32_t svc_conf_bool(const modpop3d_conf *conf, const char *key, int32_t *ret) noexcept
{
    int64_t n = 0;
    int32_t rc = svc_conf_int(conf, key, &n);
    if (rc == MODPOP3D_OK)
        *ret = n != 0 ? 1 : 0;
    return rc;
}

int32_t svc_conf_list_item(const modpop3d_conf *conf, const char *key, uint32_t index,
                           const char **ret) noexcept
{
    if (conf == nullptr || key == nullptr || ret == nullptr)
        return MODPOP3D_E_INVAL;
    auto it = conf->lists.find(key);
    if (it == conf->lists.end() || index >= it->second.size())
        return MODPOP3D_E_NOENT;
    *ret = it->second[index].c_str();
    return MODPOP3D_OK;
}

__attribute__((format(printf, 3, 4))) int32_t
svc_conf_error(const modpop3d_conf *conf, const char *key, const char *fmt, ...) noexcept
{
    try {
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        if (conf == nullptr) {
            log::write(log::Err, "module", buf);
            return MODPOP3D_E_CONFIG;
        }
        auto *mut = const_cast<modpop3d_conf *>(conf); // error count is bookkeeping only
        ++mut->errors;
        // Appended piece by piece: GCC 12 at -O3 warns falsely (-Wrestrict)
        // about a chain of operator+ here.
        std::string text = "[";
        text += conf->label();
        text += "]";
        if (key != nullptr)
            text.append(" ").append(key);
        text.append(": ").append(buf);
        config::Location at =
            key ? conf->effective.location_of(key)
                : (conf->effective.section ? conf->effective.section->where : config::Location{});
        if (conf->diags != nullptr)
            conf->diags->error(at, text);
        else
            log::write(log::Err, conf->label(), at.str() + ": " + buf);
    } catch (...) {
    }
    return MODPOP3D_E_CONFIG;
}

const char *svc_conf_instance(const modpop3d_conf *conf) noexcept
{
    return conf ? conf->instance.c_str() : "";
}

const char *svc_session_get(const modpop3d_session *s, const char *key) noexcept
{
    if (s == nullptr || key == nullptr)
        return nullptr;
    const std::string *v = s->get(key);
    return v ? v->c_str() : nullptr;
}

void *svc_session_alloc(modpop3d_session *s, size_t size) noexcept
{
    if (s == nullptr)
        return nullptr;
    try {
        std::size_t n = (size + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
        s->arena.push_back(std::make_unique<std::max_align_t[]>(n == 0 ? 1 : n));
        return s->arena.back().get();
    } catch (...) {
        return nullptr;
    }
}

char *svc_session_strdup(modpop3d_session *s, const char *str) noexcept
{
    if (str == nullptr)
        return nullptr;
    std::size_t len = std::strlen(str);
    auto *p = static_cast<char *>(svc_session_alloc(s, len + 1));
    if (p != nullptr)
        std::memcpy(p, str, len + 1);
    return p;
}

int32_t svc_expand(const modpop3d_session *s, const char *tmpl, modpop3d_escape_fn escape,
                   void *escape_ctx, char *buf, size_t buflen, size_t *ret_len) noexcept
{
    if (s == nullptr || tmpl == nullptr)
        return MODPOP3D_E_INVAL;
    try {
        std::string out;
        int32_t rc = expand_for_session(*s, tmpl, escape, escape_ctx, out);
        if (rc != MODPOP3D_OK)
            return rc;
        if (ret_len != nullptr)
            *ret_len = out.size();
        if (buf == nullptr || out.size() + 1 > buflen)
            return MODPOP3D_E_NOMEM;
        std::memcpy(buf, out.c_str(), out.size() + 1);
        return MODPOP3D_OK;
    } catch (...) {
        return MODPOP3D_E_NOMEM;
    }
}

bool is_decimal(const char *v)
{
    if (v == nullptr || *v == '\0')
        return false;
    unsigned long n = 0;
    auto end = v + std::strlen(v);
    auto [ptr, ec] = std::from_chars(v, end, n);
    return ec == std::errc() && ptr == end && n <= 0xfffffffeUL;
}

int32_t svc_result_set(modpop3d_auth_result *res, const char *key, const char *value) noexcept
{
    if (res == nullptr || key == nullptr || value == nullptr)
        return MODPOP3D_E_INVAL;
    try {
        static const char *const known[] = {"user",    "uid",      "gid",         "home",
                                            "mailbox", "password", "login_delay", "expire"};
        bool ok = false;
        for (auto k : known)
            ok = ok || std::strcmp(k, key) == 0;
        if (!ok)
            return MODPOP3D_E_INVAL;
        std::string k(key);
        if ((k == "uid" || k == "gid" || k == "login_delay") && !is_decimal(value))
            return MODPOP3D_E_INVAL;
        if (k == "expire" && !is_decimal(value) && std::strcmp(value, "never") != 0)
            return MODPOP3D_E_INVAL;
        res->values[k] = value;
        return MODPOP3D_OK;
    } catch (...) {
        return MODPOP3D_E_NOMEM;
    }
}

uint64_t svc_now_usec() noexcept
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

int32_t svc_random_bytes(void *buf, size_t len) noexcept
{
    auto *p = static_cast<unsigned char *>(buf);
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return MODPOP3D_E_IO;
        }
        p += n;
        len -= static_cast<size_t>(n);
    }
    return MODPOP3D_OK;
}

int32_t svc_const_time_equal(const void *a, const void *b, size_t len) noexcept
{
    auto *x = static_cast<const volatile unsigned char *>(a);
    auto *y = static_cast<const volatile unsigned char *>(b);
    unsigned char diff = 0;
    for (size_t i = 0; i < len; ++i)
        diff |= static_cast<unsigned char>(x[i] ^ y[i]);
    return diff == 0 ? 1 : 0;
}

int32_t svc_password_verify(const char *stored, const char *plain, size_t plain_len) noexcept
{
    if (stored == nullptr || plain == nullptr)
        return MODPOP3D_E_INVAL;
    return password::password_verify(stored, std::string_view(plain, plain_len));
}

int32_t svc_password_dummy_verify(const char *plain, size_t plain_len) noexcept
{
    return password::password_dummy_verify(
        std::string_view(plain ? plain : "", plain ? plain_len : 0));
}

const modpop3d_host the_host = {
    sizeof(modpop3d_host),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    svc_log,
    svc_vlog,
    svc_conf_str,
    svc_conf_int,
    svc_conf_bool,
    svc_conf_list_item,
    svc_conf_error,
    svc_conf_instance,
    svc_session_get,
    svc_session_alloc,
    svc_session_strdup,
    svc_expand,
    svc_result_set,
    svc_now_usec,
    svc_random_bytes,
    svc_const_time_equal,
    svc_password_verify,
    svc_password_dummy_verify,
};

} // namespace

const modpop3d_host *host_table()
{
    return &the_host;
}

int32_t expand_for_session(const modpop3d_session &session, std::string_view tmpl,
                           modpop3d_escape_fn escape, void *escape_ctx, std::string &out,
                           std::string *error)
{
    auto lookup = [&](std::string_view name, std::string &value) {
        if (const std::string *v = session.get(name)) {
            value = *v;
            return true;
        }
        // local_part and domain derive from the user name when the session
        // did not set them: the last '@' splits them.
        const std::string *user = session.get("user");
        if (user == nullptr)
            return false;
        auto at = user->rfind('@');
        if (name == "local_part") {
            value = at == std::string::npos ? *user : user->substr(0, at);
            return true;
        }
        if (name == "domain" && at != std::string::npos) {
            value = user->substr(at + 1);
            return true;
        }
        return false;
    };
    return util::expand_template(tmpl, lookup, escape, escape_ctx, out, error);
}

} // namespace modpop3d::modload
