// dovecot_uidlist.hpp - read-only parser of Dovecot's dovecot-uidlist (the
// IMAP UID <-> file name map of a Dovecot Maildir), for uidl-format: dovecot.
// Only version 3 files (Dovecot 1.1 and later) are understood. The file is
// never written: after a migration it is a frozen record of the old UIDs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mailbox_maildir
{

constexpr const char *kDovecotUidlistName = "dovecot-uidlist";
// A larger file is not read (about 100 bytes a message: millions of messages).
constexpr std::size_t kDovecotUidlistMax = 256u << 20;

struct DovecotUidlist {
    struct Entry {
        uint32_t uid = 0;
        // The 'O' field: a POP3 UIDL kept from an earlier server by a
        // migration, which Dovecot gives instead of its own format.
        std::string pop3_uidl;
    };
    uint32_t uid_validity = 0;
    // Keyed by base name (the recorded file name up to its first ':').
    std::unordered_map<std::string, Entry> by_base;

    // parse - fill from the file's content; false (and `why`) when the file
    // is not a well-formed version 3 uidlist, in which case it is unusable as
    // a whole. An unterminated last line (an append in progress) is skipped.
    bool parse(std::string_view text, std::string &why);

    // uidl - the UIDL Dovecot's POP3 server gives the message with this base
    // name by default (pop3_uidl_format = %08Xu%08Xv, or the 'O' field), or
    // nullopt when the base name is not listed.
    std::optional<std::string> uidl(std::string_view base) const;
};

// dovecot_uidl - "%08X%08X" of uid and uidvalidity: 16 upper-case hex digits.
std::string dovecot_uidl(uint32_t uid, uint32_t uid_validity);

// looks_like_dovecot_uidl - exactly 16 characters, each 0-9 or A-F.
bool looks_like_dovecot_uidl(std::string_view s);

} // namespace mailbox_maildir
