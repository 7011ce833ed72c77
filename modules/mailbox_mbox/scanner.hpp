// scanner.hpp - splits an mbox file into messages in one streaming pass with
// a bounded buffer: offsets, exact POP3 sizes, UIDL digests, delivery times.
//
// Rules (see modpop3d-mailbox_mbox(8)):
//  - a message starts at a line beginning "From " at the start of the file or
//    right after an empty line ("\n" or "\r\n");
//  - the empty line before the next From_ line, and one empty line at the end
//    of the file, are separators, not content;
//  - a first message whose headers carry the c-client "DON'T DELETE THIS
//    MESSAGE -- FOLDER INTERNAL DATA" subject and an X-IMAP/X-IMAPbase header
//    is hidden (not listed) and kept verbatim;
//  - anything but empty lines before the first From_ line makes the file
//    "not an mbox" (CORRUPT): better refuse than hide mail.
#pragma once

#include "md5.hpp"
#include "unquote.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace mbox
{

namespace md5 = modpop3d::md5;
using Digest = md5::Digest;

enum class UidlStyle : uint32_t { modpop3d = 1, tpop3d = 2 };

struct MsgRec {
    uint64_t from_off; // offset of "From "
    uint64_t body_off; // first byte after the From_ line
    uint64_t raw_end;  // end of the stored content (separator excluded)
    uint64_t size;     // POP3 octets: unquoted, CRLF line ends
    int64_t received;  // From_ line date, 0 when unparsable
    Digest digest;     // UIDL digest (see uidl_digest rules)
};

struct ScanOptions {
    Format format = Format::mboxo;
    UidlStyle uidl = UidlStyle::modpop3d;
    bool hide_cclient = true;
};

struct ScanResult {
    std::vector<MsgRec> msgs;
    uint64_t hidden_end = 0; // bytes before the first listed message (kept verbatim)
    uint64_t end = 0;        // how far the file was scanned
    bool not_mbox = false;   // non-empty junk before the first From_ line
};

// Read errors are reported by throwing IoError.
struct IoError : std::runtime_error {
    int err;
    IoError(const std::string &what, int e) : std::runtime_error(what), err(e) {}
};

// scan - scan [start, end) of `fd`. `start` is 0 or the From_ offset of a
// message (incremental rescan after the MDA appended); `first_ordinal` is the
// position in the file of that message (0 = the first: c-client check).
// Appends to `out.msgs`.
void scan(int fd, uint64_t start, uint64_t end, uint64_t first_ordinal, const ScanOptions &opt,
          ScanResult &out);

// parse_from_date - the delivery time in a From_ line ("From a@b Wed Jan  1
// 00:00:00 2020"), local time as ctime(3) wrote it; 0 when unparsable.
int64_t parse_from_date(const char *line, std::size_t len);

} // namespace mbox
