// reply.hpp - an incremental POP3 reply parser that checks the framing: every
// line ends in CRLF, a multi-line reply ends with ".\r\n", and the body is
// digested (SHA-256 of the dot-stuffed wire bytes) or compared byte for byte
// with the expected wire bytes of candidate messages, and measured (its POP3
// size after dot-unstuffing) as it streams, without keeping it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bench
{

class Reply
{
  public:
    enum class Mode { single, multi_lines, multi_digest };
    enum class State { partial, done, error };

    Reply();
    ~Reply();
    Reply(const Reply &) = delete;
    Reply &operator=(const Reply &) = delete;

    // start - expect a new reply. multi_lines keeps the body lines (UIDL,
    // LIST); multi_digest only digests and measures them (RETR).
    void start(Mode mode);
    // start_compare - a RETR whose bytes must equal one of `candidates`
    // (expected wire bytes without ".\r\n"); cheaper than hashing. After
    // done, matched() is the index of the first candidate equal to the whole
    // body, or -1.
    void start_compare(std::vector<const std::string *> candidates);
    int matched() const { return matched_; }
    bool comparing() const { return comparing_; }
    // feed - consume what can be parsed from `data`; returns how many bytes
    // were used. Unused bytes stay with the caller (they belong to a later
    // reply, or the line is not complete yet).
    std::size_t feed(const char *data, std::size_t len, State &state);

    bool ok() const { return ok_; }
    const std::string &status() const { return status_; }
    // lines - the body lines of a multi_lines reply (without CRLF, still
    // dot-stuffed), valid until the next start(); text() is all of them,
    // each followed by CRLF.
    const std::vector<std::string_view> &lines() const { return lines_; }
    const std::string &text() const { return text_; }
    // reserve - room for a multi-line reply of up to `bytes` octets of lines
    // and `lines` lines, touched now: a 100,000-line listing then neither
    // reallocates nor page-faults inside the timed session.
    void reserve(std::size_t bytes, std::size_t lines);
    // take_text - hand over text() (lines() then dangle until start()).
    std::string take_text() { return std::move(text_); }
    uint64_t body_size() const { return body_size_; } // after unstuffing
    const std::string &digest() const { return digest_; }
    const std::string &error() const { return error_; }

  private:
    struct Hash;
    void absorb(const char *p, std::size_t n); // body bytes: hash or compare
    void conclude();                           // at ".\r\n"
    bool comparing_ = false;
    std::vector<const std::string *> candidates_; // nullptr once it differed
    uint64_t compared_ = 0;
    int matched_ = -1;
    Mode mode_ = Mode::single;
    bool have_status_ = false;
    bool ok_ = false;
    std::string status_;
    // One buffer for all lines, not a string per line: a 50,000-line UIDL
    // listing cost the load generator more CPU than the server.
    std::string text_;
    std::vector<std::size_t> ends_; // end of each line in text_
    std::vector<std::string_view> lines_;
    uint64_t body_size_ = 0;
    std::string digest_;
    std::string error_;
    std::unique_ptr<Hash> hash_;
};

// hex_digest - lower-case hex of a digest (SHA-256 here).
std::string hex_digest(const unsigned char *md, unsigned len);

} // namespace bench
