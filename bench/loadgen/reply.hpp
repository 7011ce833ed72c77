// reply.hpp - an incremental POP3 reply parser that checks the framing: every
// line ends in CRLF, a multi-line reply ends with ".\r\n", and the body is
// digested (SHA-256 of the dot-stuffed wire bytes) and measured (its POP3
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
    uint64_t body_size() const { return body_size_; } // after unstuffing
    const std::string &digest() const { return digest_; }
    const std::string &error() const { return error_; }

  private:
    struct Hash;
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

} // namespace bench
