// encoder.cpp - CRLF normalisation, dot-stuffing and TOP limits.
#include "pop3/encoder.hpp"

#include <cstring>

namespace modpop3d::pop3
{

void MessageEncoder::begin_data(char first, std::string &out)
{
    if (at_line_start_) {
        if (first == '.') {
            out += '.';
            ++stuffed_;
        }
        at_line_start_ = false;
    }
}

void MessageEncoder::end_line(std::string &out)
{
    out += "\r\n";
    if (in_headers_) {
        if (at_line_start_) { // an empty line: the end of the headers
            in_headers_ = false;
            if (top_lines_ && *top_lines_ == 0)
                done_ = true;
        }
    } else if (top_lines_) {
        ++body_lines_;
        if (body_lines_ >= *top_lines_)
            done_ = true;
    }
    at_line_start_ = true;
}

bool MessageEncoder::encode(std::string_view chunk, std::string &out)
{
    std::size_t i = 0;
    const std::size_t n = chunk.size();
    const char *p = chunk.data();
    // LF-only stores grow by one CR per line; reserve for ~60-byte lines so
    // that a chunk costs one allocation at most.
    out.reserve(out.size() + n + n / 32 + 8);
    while (i < n && !done_) {
        if (pending_cr_) {
            pending_cr_ = false;
            if (chunk[i] == '\n') {
                ++i;
                end_line(out);
                continue;
            }
            begin_data('\r', out); // a bare CR is data
            out += '\r';
        }
        const char c = chunk[i];
        if (c == '\n') {
            ++i;
            end_line(out);
            continue;
        }
        if (c == '\r') {
            ++i;
            pending_cr_ = true;
            continue;
        }
        begin_data(c, out);
        // Copy the run up to the next CR or LF in one go (memchr is
        // vectorised: the cost per byte is what makes bulk RETR fast).
        const void *lf = std::memchr(p + i, '\n', n - i);
        const std::size_t line_end =
            lf != nullptr ? static_cast<std::size_t>(static_cast<const char *>(lf) - p) : n;
        const void *cr = std::memchr(p + i, '\r', line_end - i);
        const std::size_t j =
            cr != nullptr ? static_cast<std::size_t>(static_cast<const char *>(cr) - p) : line_end;
        out.append(p + i, j - i);
        i = j;
    }
    return done_;
}

void MessageEncoder::finish(std::string &out)
{
    if (pending_cr_) {
        pending_cr_ = false;
        begin_data('\r', out);
        out += '\r';
    }
    if (!at_line_start_)
        out += "\r\n";
    out += ".\r\n";
}

} // namespace modpop3d::pop3
