// reply.cpp - the POP3 reply parser; see reply.hpp.
#include "reply.hpp"

#include <cstring>
#include <openssl/evp.h>

namespace bench
{

std::string hex_digest(const unsigned char *md, unsigned len)
{
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 15];
    }
    return out;
}

struct Reply::Hash {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ~Hash() { EVP_MD_CTX_free(ctx); }
    void reset() { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
    void update(const char *p, std::size_t n)
    {
        if (n)
            EVP_DigestUpdate(ctx, p, n);
    }
    std::string hex()
    {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_DigestFinal_ex(ctx, md, &len);
        return hex_digest(md, len);
    }
};

Reply::Reply() : hash_(std::make_unique<Hash>()) {}
Reply::~Reply() = default;

void Reply::start(Mode mode)
{
    mode_ = mode;
    have_status_ = false;
    ok_ = false;
    status_.clear();
    text_.clear();
    ends_.clear();
    lines_.clear();
    body_size_ = 0;
    digest_.clear();
    error_.clear();
    comparing_ = false;
    candidates_.clear();
    compared_ = 0;
    matched_ = -1;
    if (mode == Mode::multi_digest)
        hash_->reset();
}

void Reply::reserve(std::size_t bytes, std::size_t lines)
{
    // resize() writes every byte (the pages are faulted in here); clear()
    // keeps the capacity.
    text_.resize(bytes);
    text_.clear();
    ends_.resize(lines);
    ends_.clear();
    lines_.resize(lines);
    lines_.clear();
}

void Reply::start_compare(std::vector<const std::string *> candidates)
{
    start(Mode::multi_digest);
    comparing_ = true;
    candidates_ = std::move(candidates);
}

void Reply::absorb(const char *p, std::size_t n)
{
    if (n == 0)
        return;
    if (!comparing_) {
        hash_->update(p, n);
        return;
    }
    for (auto &c : candidates_)
        if (c != nullptr &&
            (c->size() - compared_ < n || std::memcmp(c->data() + compared_, p, n) != 0))
            c = nullptr;
    compared_ += n;
}

void Reply::conclude()
{
    if (!comparing_) {
        digest_ = hash_->hex();
        return;
    }
    for (std::size_t i = 0; i < candidates_.size(); ++i)
        if (candidates_[i] != nullptr && candidates_[i]->size() == compared_) {
            matched_ = static_cast<int>(i);
            return;
        }
}

std::size_t Reply::feed(const char *data, std::size_t len, State &state)
{
    state = State::partial;
    std::size_t pos = 0;
    std::size_t hashed = 0; // body bytes before this offset are in the digest
    constexpr std::size_t max_line = 64 * 1024;
    auto fail = [&](std::string why) {
        error_ = std::move(why);
        state = State::error;
        return pos;
    };
    while (pos < len) {
        const char *nl = static_cast<const char *>(std::memchr(data + pos, '\n', len - pos));
        if (nl == nullptr) {
            if (len - pos > max_line)
                return fail("line longer than 64 KiB without LF");
            break;
        }
        const std::size_t end = static_cast<std::size_t>(nl - data) + 1;
        const std::size_t line_len = end - pos;
        if (line_len < 2 || data[end - 2] != '\r')
            return fail("line not ending in CRLF");
        std::string_view line(data + pos, line_len - 2);
        if (!have_status_) {
            have_status_ = true;
            status_.assign(line);
            if (line.substr(0, 3) == "+OK" && (line.size() == 3 || line[3] == ' ')) {
                ok_ = true;
            } else if (line.substr(0, 4) == "-ERR" && (line.size() == 4 || line[4] == ' ')) {
                ok_ = false;
            } else {
                return fail("status line neither +OK nor -ERR: " + std::string(line.substr(0, 80)));
            }
            pos = end;
            hashed = pos;
            if (mode_ == Mode::single || !ok_) {
                state = State::done;
                return pos;
            }
            continue;
        }
        if (line == ".") {
            if (mode_ == Mode::multi_lines) {
                std::size_t start = 0;
                lines_.reserve(ends_.size());
                for (std::size_t e : ends_) {
                    lines_.emplace_back(text_.data() + start, e - start - 2);
                    start = e;
                }
            }
            if (mode_ == Mode::multi_digest) {
                absorb(data + hashed, pos - hashed);
                conclude();
            }
            pos = end;
            state = State::done;
            return pos;
        }
        body_size_ += line_len - (!line.empty() && line.front() == '.' ? 1 : 0);
        if (mode_ == Mode::multi_lines) {
            text_.append(data + pos, line_len);
            ends_.push_back(text_.size());
        }
        pos = end;
    }
    if (mode_ == Mode::multi_digest && have_status_)
        absorb(data + hashed, pos - hashed);
    return pos;
}

} // namespace bench
