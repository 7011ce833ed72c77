// message_size.hpp - the exact POP3 size of a raw message (RFC 1939 section
// 11: octets as transmitted with CRLF line ends, before dot-stuffing).
//
// This is the size LIST, STAT and "+OK n octets" report, and the size a
// mailbox module must put in modpop3d_msg_info.size. It matches what
// MessageEncoder sends before the terminating ".\r\n", minus the stuffed
// dots and minus the CRLF the encoder adds to an unterminated last line:
//   - every LF not preceded by CR counts as CRLF (2 octets);
//   - a CR not followed by LF is an ordinary byte (so is NUL, so is 8-bit);
//   - the CRLF added before the terminator of a message whose last line has
//     no line end belongs to the terminator and is not counted (the rule of
//     Maildir's W= sizes, and of mailbox_maildir and mailbox_mbox).
// Header-only and dependency-free on purpose, so a module can use it too.
#pragma once

#include <cstdint>
#include <string_view>

namespace modpop3d::pop3
{

// MessageSizer - the size of a message given in chunks of any size.
class MessageSizer
{
  public:
    void add(std::string_view chunk) noexcept
    {
        for (char c : chunk) {
            size_ += (c == '\n' && !prev_cr_) ? 2 : 1;
            prev_cr_ = c == '\r';
        }
    }

    // size - the POP3 size of everything added so far, as a complete message.
    uint64_t size() const noexcept { return size_; }

  private:
    uint64_t size_ = 0;
    bool prev_cr_ = false;
};

// pop3_size - the POP3 size of a whole raw message.
inline uint64_t pop3_size(std::string_view message) noexcept
{
    MessageSizer sizer;
    sizer.add(message);
    return sizer.size();
}

} // namespace modpop3d::pop3
