// scanner.cpp - the one-pass mbox parser (rules in scanner.hpp).
#include "scanner.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <unistd.h>

namespace mbox
{
namespace
{

constexpr std::size_t buf_size = 1 << 20;
constexpr std::size_t lookahead = 64;

// Reader - a window over [base, end) of the file, refilled with pread.
class Reader
{
  public:
    Reader(int fd, uint64_t start, uint64_t end) : fd_(fd), base_(start), end_(end), buf_(buf_size)
    {
    }
    // fill - make at least `need` bytes available unless the end is nearer.
    void fill(std::size_t need)
    {
        if (len_ - pos_ >= need || base_ + len_ >= end_)
            return;
        std::memmove(buf_.data(), buf_.data() + pos_, len_ - pos_);
        base_ += pos_;
        len_ -= pos_;
        pos_ = 0;
        while (len_ < buf_.size() && base_ + len_ < end_) {
            uint64_t want64 = end_ - (base_ + len_);
            std::size_t want = buf_.size() - len_;
            if (want64 < want)
                want = static_cast<std::size_t>(want64);
            ssize_t n = ::pread(fd_, buf_.data() + len_, want, static_cast<off_t>(base_ + len_));
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                throw IoError("read", errno);
            }
            if (n == 0) { // the file shrank under the lock: treat as the end
                end_ = base_ + len_;
                break;
            }
            len_ += static_cast<std::size_t>(n);
            if (len_ - pos_ >= need)
                break;
        }
    }
    std::size_t avail() const { return len_ - pos_; }
    const char *ptr() const { return buf_.data() + pos_; }
    uint64_t off() const { return base_ + pos_; }
    void advance(std::size_t n) { pos_ += n; }
    uint64_t end() const { return end_; }

  private:
    int fd_;
    uint64_t base_;
    uint64_t end_;
    std::vector<char> buf_;
    std::size_t pos_ = 0;
    std::size_t len_ = 0;
};

// One message being scanned.
struct Work {
    MsgRec rec{};
    UnquoteState uq;
    CrlfCounter count;
    md5::Hasher hdr;
    std::string first512;  // tpop3d style
    std::string from_line; // first bytes of the From_ line, for the date
    bool in_headers = true;
    bool cc_subject = false;
    bool cc_ximap = false;
    uint64_t ordinal = 0;
};

bool starts(const char *p, std::size_t n, const char *lit)
{
    std::size_t l = std::strlen(lit);
    return n >= l && std::memcmp(p, lit, l) == 0;
}

} // namespace

int64_t parse_from_date(const char *line, std::size_t len)
{
    static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::vector<std::string> tok;
    std::string cur;
    for (std::size_t i = 0; i < len && tok.size() < 16; ++i) {
        char c = line[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (!cur.empty())
                tok.push_back(cur);
            cur.clear();
        } else if (cur.size() < 64) {
            cur += c;
        }
    }
    if (!cur.empty())
        tok.push_back(cur);
    // "From" sender [weekday] month day hh:mm:ss [zone] year
    for (std::size_t i = 2; i + 2 < tok.size(); ++i) {
        int mon = -1;
        for (int m = 0; m < 12; ++m)
            if (tok[i] == months[m])
                mon = m;
        if (mon < 0)
            continue;
        int day = std::atoi(tok[i + 1].c_str());
        int hh = 0, mm = 0, ss = 0;
        if (std::sscanf(tok[i + 2].c_str(), "%d:%d:%d", &hh, &mm, &ss) < 2)
            return 0;
        int year = 0;
        for (std::size_t j = i + 3; j < tok.size() && j <= i + 4; ++j)
            if (tok[j].size() == 4 && std::atoi(tok[j].c_str()) > 1900)
                year = std::atoi(tok[j].c_str());
        if (year == 0 || day < 1 || day > 31)
            return 0;
        struct tm tm {
        };
        tm.tm_year = year - 1900;
        tm.tm_mon = mon;
        tm.tm_mday = day;
        tm.tm_hour = hh;
        tm.tm_min = mm;
        tm.tm_sec = ss;
        tm.tm_isdst = -1;
        time_t t = mktime(&tm);
        return t == static_cast<time_t>(-1) ? 0 : static_cast<int64_t>(t);
    }
    return 0;
}

void scan(int fd, uint64_t start, uint64_t end, uint64_t first_ordinal, const ScanOptions &opt,
          ScanResult &out)
{
    Reader r(fd, start, end);
    bool have = false;
    Work w;
    uint64_t ordinal = first_ordinal;
    bool prev_blank = true; // the file start counts as "after an empty line"
    std::size_t held_blank = 0;
    bool hidden_cclient = false;

    auto body = [&](const char *p, std::size_t n) { unquote(w.uq, opt.format, p, n, w.count); };
    auto raw_extent = [&](const char *p, std::size_t n) {
        if (opt.uidl == UidlStyle::tpop3d && w.first512.size() < 512)
            w.first512.append(p, std::min<std::size_t>(n, 512 - w.first512.size()));
    };
    auto finish = [&](uint64_t raw_end) {
        if (!have)
            return;
        unquote_finish(w.uq, w.count);
        w.rec.raw_end = raw_end;
        w.rec.size = w.count.total();
        w.rec.received = parse_from_date(w.from_line.data(), w.from_line.size());
        if (opt.uidl == UidlStyle::tpop3d) {
            w.rec.digest = md5::digest(w.first512);
        } else {
            char tail[32];
            int n = std::snprintf(tail, sizeof tail, "\n%llu",
                                  static_cast<unsigned long long>(raw_end - w.rec.body_off));
            w.hdr.update(tail, static_cast<std::size_t>(n));
            w.rec.digest = w.hdr.finish();
        }
        if (w.ordinal == 0 && opt.hide_cclient && w.cc_subject && w.cc_ximap)
            hidden_cclient = true;
        else
            out.msgs.push_back(w.rec);
        have = false;
    };

    for (;;) {
        r.fill(lookahead);
        std::size_t avail = r.avail();
        if (avail == 0)
            break;
        const char *p = r.ptr();
        uint64_t line_off = r.off();

        if (prev_blank && starts(p, avail, "From ")) {
            finish(line_off - held_blank);
            held_blank = 0;
            w = Work{};
            have = true;
            w.ordinal = ordinal++;
            w.rec.from_off = line_off;
            for (;;) { // the From_ line, whatever its length
                const void *nl = std::memchr(p, '\n', avail);
                std::size_t take =
                    nl ? static_cast<std::size_t>(static_cast<const char *>(nl) - p) + 1 : avail;
                if (opt.uidl == UidlStyle::modpop3d)
                    w.hdr.update(p, take);
                raw_extent(p, take);
                if (w.from_line.size() < 256)
                    w.from_line.append(p, std::min<std::size_t>(take, 256 - w.from_line.size()));
                r.advance(take);
                if (nl)
                    break;
                r.fill(1);
                avail = r.avail();
                if (avail == 0)
                    break;
                p = r.ptr();
            }
            w.rec.body_off = r.off();
            prev_blank = false;
            continue;
        }

        if (held_blank > 0) { // the empty line was content after all
            body(held_blank == 1 ? "\n" : "\r\n", held_blank);
            held_blank = 0;
        }
        bool blank = p[0] == '\n' || (avail >= 2 && p[0] == '\r' && p[1] == '\n');
        if (blank) {
            held_blank = p[0] == '\n' ? 1 : 2;
            if (have) {
                raw_extent(p, held_blank);
                w.in_headers = false;
            }
            prev_blank = true;
            r.advance(held_blank);
            continue;
        }
        prev_blank = false;
        if (!have) { // junk before the first From_ line
            out.not_mbox = true;
            return;
        }
        if (w.in_headers && w.ordinal == 0) {
            if (starts(p, avail, "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA"))
                w.cc_subject = true;
            if (starts(p, avail, "X-IMAP: ") || starts(p, avail, "X-IMAPbase: "))
                w.cc_ximap = true;
        }
        for (;;) { // one line, in pieces if it is longer than the buffer
            const void *nl = std::memchr(p, '\n', avail);
            std::size_t take =
                nl ? static_cast<std::size_t>(static_cast<const char *>(nl) - p) + 1 : avail;
            body(p, take);
            if (w.in_headers && opt.uidl == UidlStyle::modpop3d)
                w.hdr.update(p, take);
            raw_extent(p, take);
            r.advance(take);
            if (nl)
                break;
            r.fill(1);
            avail = r.avail();
            if (avail == 0)
                break;
            p = r.ptr();
        }
    }
    // One empty line at the end of the file is the separator the MDA wrote.
    finish(r.off() - held_blank);
    out.end = r.off();
    (void)hidden_cclient;
}

} // namespace mbox
