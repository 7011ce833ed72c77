// dovecot_uidlist.cpp - dovecot-uidlist parsing (see dovecot_uidlist.hpp).
//
// Version 3 format, as documented by Dovecot:
//   header: 3 [<key><value> ...]          e.g. "3 V1275660208 N25022 G3085f0..."
//   entry:  <uid> [<key><value> ...] :<file name>
// Fields are separated by single spaces; the entry's file name is the rest of
// the line after the first field that starts with ':' and may itself contain
// ':' (the ":2,<flags>" info part of the last known name).
#include "dovecot_uidlist.hpp"

#include "names.hpp"

#include <cstdio>

namespace mailbox_maildir
{
namespace
{

// parse_u32 - all of s is a decimal number in 1..UINT32_MAX.
bool parse_u32(std::string_view s, uint32_t &out)
{
    if (s.empty() || s.size() > 10)
        return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + uint64_t(c - '0');
    }
    if (v == 0 || v > UINT32_MAX)
        return false;
    out = uint32_t(v);
    return true;
}

// next_field - the text up to the next ' ' (or the end), advancing `rest`.
std::string_view next_field(std::string_view &rest)
{
    auto sp = rest.find(' ');
    std::string_view f = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    return f;
}

} // namespace

std::string dovecot_uidl(uint32_t uid, uint32_t uid_validity)
{
    char buf[17];
    std::snprintf(buf, sizeof buf, "%08X%08X", static_cast<unsigned>(uid),
                  static_cast<unsigned>(uid_validity));
    return std::string(buf, 16);
}

bool looks_like_dovecot_uidl(std::string_view s)
{
    if (s.size() != 16)
        return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return false;
    return true;
}

bool DovecotUidlist::parse(std::string_view text, std::string &why)
{
    uid_validity = 0;
    by_base.clear();
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) {
        why = "no complete header line";
        return false;
    }
    std::string_view rest = text.substr(0, nl);
    if (next_field(rest) != "3") {
        why = "not a version 3 uidlist";
        return false;
    }
    while (!rest.empty()) {
        std::string_view f = next_field(rest);
        if (!f.empty() && f[0] == 'V' && !parse_u32(f.substr(1), uid_validity)) {
            why = "bad V (UIDVALIDITY) field in the header";
            return false;
        }
    }
    if (uid_validity == 0) {
        why = "no V (UIDVALIDITY) field in the header";
        return false;
    }
    std::unordered_map<uint32_t, bool> uids;
    std::size_t pos = nl + 1, line_no = 1;
    while (pos < text.size()) {
        ++line_no;
        nl = text.find('\n', pos);
        if (nl == std::string_view::npos)
            break; // unterminated last line: being appended, not yet part of the file
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        auto bad = [&](const char *what) {
            why = std::string(what) + " on line " + std::to_string(line_no);
            by_base.clear();
            return false;
        };
        Entry e;
        std::string_view r = line;
        if (!parse_u32(next_field(r), e.uid))
            return bad("bad UID");
        std::string_view name;
        bool have_name = false;
        while (!r.empty() || !have_name) {
            if (r.empty())
                return bad("no ':<file name>' field");
            if (r[0] == ':') {
                name = r.substr(1);
                have_name = true;
                break;
            }
            std::string_view f = next_field(r);
            if (f.empty())
                return bad("empty field");
            if (f[0] == 'O')
                e.pop3_uidl = std::string(f.substr(1));
        }
        std::string_view base = split_name(name).base;
        if (base.empty())
            return bad("empty file name");
        if (!e.pop3_uidl.empty() && !is_uidl_safe(e.pop3_uidl))
            return bad("O field is not a valid POP3 UIDL");
        if (!uids.emplace(e.uid, true).second)
            return bad("duplicate UID");
        if (!by_base.emplace(std::string(base), std::move(e)).second)
            return bad("duplicate file name");
    }
    return true;
}

std::optional<std::string> DovecotUidlist::uidl(std::string_view base) const
{
    auto it = by_base.find(std::string(base));
    if (it == by_base.end())
        return std::nullopt;
    if (!it->second.pop3_uidl.empty())
        return it->second.pop3_uidl;
    return dovecot_uidl(it->second.uid, uid_validity);
}

} // namespace mailbox_maildir
