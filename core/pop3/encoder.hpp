// encoder.hpp - raw message bytes to POP3 wire bytes for RETR and TOP.
//
// MessageEncoder takes a message as stored, in chunks of any size (LF, CRLF
// or mixed line ends; NUL and 8-bit bytes are passed through untouched) and
// appends what goes on the wire after the "+OK" line:
//   - every line end becomes CRLF (a CR not followed by LF is an ordinary
//     byte, exactly as message_size.hpp counts it);
//   - every line starting with '.' gets one more '.' (dot-stuffing);
//   - for TOP: the header lines, the blank line, then the first n body lines
//     (the whole message when it is shorter or has no blank line; n = 0 sends
//     the headers and the blank line only);
//   - finish() adds a CRLF if the last line is unterminated, then ".\r\n".
// A CRLF or a leading dot split across two chunks is handled: the encoder
// keeps the few bits of state it needs between calls.
//
// The encoder is independent of the Engine: the host creates one per
// Retrieve action (MessageEncoder(action.top_lines)) and feeds it the bytes
// the mailbox module writes into its sink. When encode() returns true the
// TOP limit is reached: the sink returns MODPOP3D_STOP, and later bytes are
// ignored. The output size minus stuffed_dots(), minus the 3 octets of
// ".\r\n" and minus the CRLF finish() adds to an unterminated last line,
// equals pop3_size() of the part sent (the whole message for RETR).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace modpop3d::pop3
{

class MessageEncoder
{
  public:
    // top_lines: nullopt for RETR (whole message), n for "TOP msg n".
    explicit MessageEncoder(std::optional<uint32_t> top_lines = std::nullopt) noexcept
        : top_lines_(top_lines)
    {
    }

    // encode - append the wire form of `chunk` to `out`. Returns true once
    // the TOP limit has been reached (then and afterwards: input is ignored).
    bool encode(std::string_view chunk, std::string &out);

    // finish - append the final CRLF when needed and the ".\r\n" terminator.
    // Call once, after the last chunk or when encode() returned true.
    void finish(std::string &out);

    bool limit_reached() const noexcept { return done_; }
    // stuffed_dots - how many '.' dot-stuffing added so far.
    uint64_t stuffed_dots() const noexcept { return stuffed_; }

  private:
    char *end_line(char *d) noexcept;

    std::optional<uint32_t> top_lines_;
    uint64_t stuffed_ = 0;
    uint32_t body_lines_ = 0;
    bool at_line_start_ = true; // no byte of the current line written yet
    bool pending_cr_ = false;   // a CR ended the last chunk: LF may follow
    bool in_headers_ = true;
    bool done_ = false;
};

} // namespace modpop3d::pop3
