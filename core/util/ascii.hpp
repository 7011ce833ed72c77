// ascii.hpp - ASCII case mapping for protocol and configuration words
// (mechanism names, login names, TLS names, scheme names). Locale-free on
// purpose: std::tolower follows LC_CTYPE, and a Turkish locale would turn
// "I" into a dotless i.
#pragma once

#include <string>
#include <string_view>

namespace modpop3d::util
{

inline char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline char ascii_upper(char c)
{
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

inline std::string ascii_lower(std::string s)
{
    for (char &c : s)
        c = ascii_lower(c);
    return s;
}

inline std::string ascii_upper(std::string s)
{
    for (char &c : s)
        c = ascii_upper(c);
    return s;
}

// iequals - equal but for ASCII case (POP3 keywords, RFC 1939 section 3).
inline bool iequals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_upper(a[i]) != ascii_upper(b[i]))
            return false;
    return true;
}

} // namespace modpop3d::util
