// unquote.hpp - the streaming ">From " unquoter shared by scan (which counts
// the bytes it would produce) and retrieve (which sends them), so that the
// sizes announced by LIST always match what RETR sends.
//
// mboxo (what Debian's postfix local, procmail and exim write): a line that
// starts with exactly ">From " loses its '>'. mboxrd: a line that starts with
// one or more '>' followed by "From " loses one '>'.
//
// The state machine holds at most one '>' and four bytes of "From" across
// chunk boundaries, so hostile runs of '>' cost no memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mbox
{

enum class Format : uint32_t { mboxo = 1, mboxrd = 2 };

struct UnquoteState {
    enum : uint8_t { line_start, gt, match, mid } st = line_start;
    uint8_t m = 0; // bytes of "From " matched after the held '>'
};

// unquote - feed `n` raw bytes; `emit(const char *, size_t)` receives the
// unquoted output in order.
template <typename Emit>
void unquote(UnquoteState &s, Format fmt, const char *p, std::size_t n, Emit &&emit)
{
    static const char from[] = "From ";
    const char *end = p + n;
    while (p < end) {
        switch (s.st) {
        case UnquoteState::line_start:
            if (*p == '>') {
                s.st = UnquoteState::gt;
                ++p;
            } else {
                s.st = UnquoteState::mid;
            }
            break;
        case UnquoteState::gt:
            if (*p == '>' && fmt == Format::mboxrd) {
                emit(">", 1); // all but the last '>' of a run are kept
                ++p;
            } else if (*p == 'F') {
                s.st = UnquoteState::match;
                s.m = 1;
                ++p;
            } else {
                emit(">", 1);
                s.st = UnquoteState::mid;
            }
            break;
        case UnquoteState::match:
            if (*p == from[s.m]) {
                ++p;
                if (++s.m == 5) {
                    emit(from, 5); // the held '>' is dropped
                    s.st = UnquoteState::mid;
                }
            } else {
                emit(">", 1);
                emit(from, s.m);
                s.st = UnquoteState::mid;
            }
            break;
        case UnquoteState::mid: {
            const void *nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
            const char *stop = nl ? static_cast<const char *>(nl) + 1 : end;
            emit(p, static_cast<std::size_t>(stop - p));
            p = stop;
            if (nl)
                s.st = UnquoteState::line_start;
            break;
        }
        }
    }
}

// unquote_finish - at the end of a message, release what is still held.
template <typename Emit> void unquote_finish(UnquoteState &s, Emit &&emit)
{
    if (s.st == UnquoteState::gt) {
        emit(">", 1);
    } else if (s.st == UnquoteState::match) {
        emit(">", 1);
        emit("From ", s.m);
    }
    s.st = UnquoteState::mid;
}

// CrlfCounter - counts what the core will send: every LF not preceded by CR
// becomes CRLF (one extra octet).
struct CrlfCounter {
    uint64_t bytes = 0;
    uint64_t bare_lf = 0;
    char last = 0;
    void operator()(const char *p, std::size_t n)
    {
        if (n == 0)
            return;
        bytes += n;
        const char *q = p;
        const char *end = p + n;
        while (q < end) {
            const void *nl = std::memchr(q, '\n', static_cast<std::size_t>(end - q));
            if (!nl)
                break;
            const char *lf = static_cast<const char *>(nl);
            char before = lf > p ? lf[-1] : last;
            if (before != '\r')
                ++bare_lf;
            q = lf + 1;
        }
        last = end[-1];
    }
    uint64_t total() const { return bytes + bare_lf; }
};

} // namespace mbox
