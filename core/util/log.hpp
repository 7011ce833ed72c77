// log.hpp - structured logging: one "key=value ..." line per event, to
// stderr or syslog. Module lines carry "module=NAME[/INSTANCE]" first.
//
// Values that may come from clients are passed through log::quote(), which
// escapes quotes, backslashes and control characters so that a client can
// never forge a line (fail2ban parses these lines). Passwords are never
// logged: no function here takes one.
#pragma once

#include <cstdarg>
#include <functional>
#include <string>
#include <string_view>

namespace modpop3d::log
{

enum class Target { Stderr, Syslog };

// Levels are syslog(3) priorities so that module levels map one to one.
constexpr int Err = 3;
constexpr int Warning = 4;
constexpr int Notice = 5;
constexpr int Info = 6;
constexpr int Debug = 7;

// init - choose the target and the most verbose level written.
// `facility` is a syslog(3) facility name (mail, daemon, auth, authpriv,
// local0..local7); anything else is mail.
void init(Target target, int max_level, std::string_view ident = "modpop3d",
          std::string_view facility = "mail");
int max_level();

// level_from_name - "err", "warning", "notice", "info", "debug"; -1 if unknown.
int level_from_name(std::string_view name);
const char *level_name(int level);

// write - log one line; `origin` is "" for the core or a module label.
void write(int level, std::string_view origin, std::string_view text);
void vwritef(int level, std::string_view origin, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void writef(int level, std::string_view origin, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// quote - a value made safe for a key=value line: bare when it is plain,
// else double-quoted with \" \\ and \xNN escapes.
std::string quote(std::string_view value);

// set_sink - send lines to `sink` instead of the target (tests); an empty
// function restores the target.
void set_sink(std::function<void(int level, const std::string &line)> sink);

} // namespace modpop3d::log
