// pop3_size.hpp - the exact POP3 size of a stored message.
//
// The rule (RFC 1939 sections 7 and 11; it matches Dovecot's "virtual size"
// and its ,W= field): the number of octets the core sends for the message
// with every line ending as CRLF, before dot-stuffing and without the
// terminating ".\r\n" line. A bare LF becomes CRLF (2 octets), an existing
// CRLF stays (2 octets), every other octet counts 1 (a lone CR too). When the
// message does not end with a line ending the core adds CRLF before the
// terminating dot; that CRLF belongs to the terminator and is not counted.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mailbox_maildir
{

// Pop3SizeCounter - feed the raw bytes in order, in chunks of any size.
class Pop3SizeCounter
{
  public:
    void feed(const char *data, std::size_t len);
    uint64_t size() const { return octets_ + bare_lf_; }

  private:
    uint64_t octets_ = 0;
    uint64_t bare_lf_ = 0;
    bool prev_cr_ = false;
};

} // namespace mailbox_maildir
