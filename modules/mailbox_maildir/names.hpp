// names.hpp - everything the Maildir file name says: the base name (the
// unique part before ':'), the info/flags part, Maildir++ ",S=" and Dovecot
// ",W=" sizes, the delivery timestamp, and the UIDL derived from the base.
// Pure functions on strings: the fuzzable part of the module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailbox_maildir
{

// How UIDLs are made from base names (config key uidl-format).
enum class UidlFormat {
    basename, // the base name itself, as qmail-pop3d (sanitised, see make_uidl)
    tpop3d,   // lower-case hex MD5 of the base name, as tpop3d's maildir driver
    dovecot,  // Dovecot's default from dovecot-uidlist, else basename (see make_uidl)
};

// split_name - base = everything before the first ':', info = everything
// after it (empty when there is no ':'). has_info tells the two empties apart.
struct SplitName {
    std::string_view base;
    std::string_view info;
    bool has_info = false;
};
SplitName split_name(std::string_view name);

// name_field - the decimal value of ",<key>=<digits>" inside `base` (key is
// 'S' or 'W'), ending at ',' or the end of base; nullopt when absent or bad.
std::optional<uint64_t> name_field(std::string_view base, char key);

// name_timestamp - the leading decimal seconds of a base name such as
// "1700000000.M1P2.host"; nullopt unless 1-12 digits are followed by '.'.
std::optional<int64_t> name_timestamp(std::string_view base);

// is_seen - info is "2,<flags>" and the flags contain 'S'.
bool is_seen(std::string_view info, bool has_info);

// info_with_seen - the info part to use once the message is marked seen:
// "2,S" when there is none, the "2,<flags>" flags merged with 'S' in ASCII
// order, and nullopt when the info is of another kind ("1,...") that we must
// not touch, or already has 'S'.
std::optional<std::string> info_with_seen(std::string_view info, bool has_info);

// is_uidl_safe - 1-70 octets, each in 0x21-0x7E (RFC 1939 section 7).
bool is_uidl_safe(std::string_view s);

// make_uidl - the UIDL of a message with this base name. basename: the base
// itself when it is UIDL-safe, otherwise "md5:" + hex MD5 of the base (a ':'
// never occurs in a base name, so that form cannot collide with a real one).
// tpop3d: hex MD5 of the base, always 32 characters. dovecot (the rule for
// messages missing from dovecot-uidlist): as basename, except that a base
// that is exactly 16 upper-case hex digits, the form of a Dovecot UIDL,
// becomes "md5:" + hex MD5 too, so that it can never collide with one.
std::string make_uidl(std::string_view base, UidlFormat format);

} // namespace mailbox_maildir
