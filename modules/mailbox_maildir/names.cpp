// names.cpp - Maildir file name parsing (see names.hpp).
#include "names.hpp"

#include "dovecot_uidlist.hpp"
#include "md5.hpp"

#include <algorithm>

namespace mailbox_maildir
{

namespace md5 = modpop3d::md5;

SplitName split_name(std::string_view name)
{
    SplitName s;
    auto colon = name.find(':');
    if (colon == std::string_view::npos) {
        s.base = name;
        return s;
    }
    s.base = name.substr(0, colon);
    s.info = name.substr(colon + 1);
    s.has_info = true;
    return s;
}

std::optional<uint64_t> name_field(std::string_view base, char key)
{
    const char pat[4] = {',', key, '=', '\0'};
    std::size_t pos = 0;
    while ((pos = base.find(std::string_view(pat, 3), pos)) != std::string_view::npos) {
        std::size_t i = pos + 3;
        uint64_t v = 0;
        std::size_t digits = 0;
        while (i < base.size() && base[i] >= '0' && base[i] <= '9' && digits < 19) {
            v = v * 10 + uint64_t(base[i] - '0');
            ++i;
            ++digits;
        }
        if (digits > 0 && (i == base.size() || base[i] == ','))
            return v;
        pos += 3;
    }
    return std::nullopt;
}

std::optional<int64_t> name_timestamp(std::string_view base)
{
    int64_t v = 0;
    std::size_t i = 0;
    while (i < base.size() && i < 12 && base[i] >= '0' && base[i] <= '9') {
        v = v * 10 + (base[i] - '0');
        ++i;
    }
    if (i == 0 || i >= base.size() || base[i] != '.')
        return std::nullopt;
    return v;
}

bool is_seen(std::string_view info, bool has_info)
{
    return has_info && info.size() >= 2 && info[0] == '2' && info[1] == ',' &&
           info.substr(2).find('S') != std::string_view::npos;
}

std::optional<std::string> info_with_seen(std::string_view info, bool has_info)
{
    if (!has_info || info.empty())
        return std::string("2,S");
    if (info.size() < 2 || info[0] != '2' || info[1] != ',')
        return std::nullopt;
    std::string flags(info.substr(2));
    if (flags.find('S') != std::string::npos)
        return std::nullopt;
    flags.push_back('S');
    std::sort(flags.begin(), flags.end());
    flags.erase(std::unique(flags.begin(), flags.end()), flags.end());
    return "2," + flags;
}

bool is_uidl_safe(std::string_view s)
{
    if (s.empty() || s.size() > 70)
        return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u >= 0x21 && u <= 0x7e;
    });
}

std::string make_uidl(std::string_view base, UidlFormat format)
{
    if (format == UidlFormat::tpop3d)
        return md5::hex(std::string_view(base));
    if (format == UidlFormat::dovecot && looks_like_dovecot_uidl(base))
        return "md5:" + md5::hex(std::string_view(base));
    if (is_uidl_safe(base))
        return std::string(base);
    return "md5:" + md5::hex(std::string_view(base));
}

} // namespace mailbox_maildir
