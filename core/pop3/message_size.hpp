// message_size.hpp - the exact POP3 size of a raw message (RFC 1939 section
// 11: octets as transmitted with CRLF line ends, before dot-stuffing).
//
// This is the size LIST, STAT and "+OK n octets" report, and the size a
// mailbox module must put in modpop3d_msg_info.size. It matches what
// MessageEncoder sends before the terminating ".\r\n", minus the stuffed
// dots:
//   - every LF not preceded by CR counts as CRLF (2 octets);
//   - a CR not followed by LF is an ordinary byte (so is NUL, so is 8-bit);
//   - a non-empty message whose last line has no line end gets a CRLF.
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
            if (c == '\n') {
                size_ += prev_cr_ ? 1 : 2;
                at_line_start_ = true;
            } else {
                ++size_;
                at_line_start_ = false;
            }
            prev_cr_ = c == '\r';
        }
    }

    // size - the POP3 size of everything added so far, as a complete message.
    uint64_t size() const noexcept { return at_line_start_ ? size_ : size_ + 2; }

  private:
    uint64_t size_ = 0;
    bool prev_cr_ = false;
    bool at_line_start_ = true; // true for the empty message too
};

// pop3_size - the POP3 size of a whole raw message.
inline uint64_t pop3_size(std::string_view message) noexcept
{
    MessageSizer sizer;
    sizer.add(message);
    return sizer.size();
}

} // namespace modpop3d::pop3
