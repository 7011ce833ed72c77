// encoder.cpp - CRLF normalisation, dot-stuffing and TOP limits.
//
// The encoder works a line at a time: one memchr finds the next LF, the line
// is copied with one memcpy into space reserved in `out` beforehand, and
// only the byte before the LF (CR or not) and the first byte of the line
// ('.' or not) are looked at. A CR anywhere else is data and needs no test:
// a CR is a line end only when an LF follows it. Bulk RETR spends its user
// time here, so the per-line work is a few instructions, not string appends.
#include "pop3/encoder.hpp"

#include <cstring>

namespace modpop3d::pop3
{

// end_line - write CRLF at d and account for the line (TOP limits).
char *MessageEncoder::end_line(char *d) noexcept
{
    *d++ = '\r';
    *d++ = '\n';
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
    return d;
}

bool MessageEncoder::encode(std::string_view chunk, std::string &out)
{
    const std::size_t n = chunk.size();
    if (done_ || n == 0)
        return done_;
    const char *p = chunk.data();
    // The output of n input bytes is at most 2n + 1: a line grows by its CR
    // and its stuffed dot, so the shortest lines ("\n", ".\n") double, and a
    // CR held back from the previous chunk may come out here. Room is made
    // in `out` for the usual growth (lines of some 60 bytes and more) and
    // enlarged to the worst case for the rest only when a line would not
    // fit; the unused tail is cut off at the end. resize() zero-fills that
    // room, which costs far less than growing the string per line.
    const std::size_t old = out.size();
    out.resize(old + n + n / 8 + 16);
    char *base = out.data() + old;
    char *d = base;
    char *limit = out.data() + out.size();
    std::size_t i = 0;
    if (pending_cr_) {
        pending_cr_ = false;
        if (p[0] == '\n') {
            i = 1;
            d = end_line(d);
        } else {
            at_line_start_ = false; // a bare CR is data (and never a '.')
            *d++ = '\r';
        }
    }
    while (i < n && !done_) {
        const void *lfp = std::memchr(p + i, '\n', n - i);
        const std::size_t lf =
            lfp != nullptr ? static_cast<std::size_t>(static_cast<const char *>(lfp) - p) : n;
        // [i, e) is data: a CR right before the LF belongs to the line end;
        // a CR ending the chunk may be one too (held until the next chunk).
        std::size_t e = lf;
        if (e > i && p[e - 1] == '\r')
            --e;
        if (static_cast<std::size_t>(limit - d) < e - i + 3) { // dot, data, CRLF
            const std::size_t used = static_cast<std::size_t>(d - base);
            out.resize(old + used + 2 * (n - i) + 2);
            base = out.data() + old;
            d = base + used;
            limit = out.data() + out.size();
        }
        if (e > i) {
            if (at_line_start_) {
                if (p[i] == '.') {
                    *d++ = '.';
                    ++stuffed_;
                }
                at_line_start_ = false;
            }
            std::memcpy(d, p + i, e - i);
            d += e - i;
        }
        if (lf == n) {
            pending_cr_ = e < n;
            break;
        }
        d = end_line(d);
        i = lf + 1;
    }
    out.resize(old + static_cast<std::size_t>(d - base));
    return done_;
}

void MessageEncoder::finish(std::string &out)
{
    if (pending_cr_) {
        pending_cr_ = false;
        at_line_start_ = false;
        out += '\r';
    }
    if (!at_line_start_)
        out += "\r\n";
    out += ".\r\n";
}

} // namespace modpop3d::pop3
