// md5.cpp - MD5 written from the description in RFC 1321.
#include "md5.hpp"

#include <cmath>
#include <cstring>

namespace mbox
{
namespace
{

// The sine table T[i] = floor(2^32 * |sin(i + 1)|), computed once.
struct SineTable {
    uint32_t t[64];
    SineTable()
    {
        for (int i = 0; i < 64; ++i)
            t[i] = static_cast<uint32_t>(std::floor(4294967296.0 * std::fabs(std::sin(i + 1.0))));
    }
};
const SineTable sine;

constexpr int shifts[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

inline uint32_t rotl(uint32_t x, int c)
{
    return (x << c) | (x >> (32 - c));
}

} // namespace

void Md5::reset()
{
    h_[0] = 0x67452301u;
    h_[1] = 0xefcdab89u;
    h_[2] = 0x98badcfeu;
    h_[3] = 0x10325476u;
    total_ = 0;
    used_ = 0;
}

void Md5::block(const uint8_t *p)
{
    uint32_t m[16];
    for (int i = 0; i < 16; ++i)
        m[i] = static_cast<uint32_t>(p[4 * i]) | static_cast<uint32_t>(p[4 * i + 1]) << 8 |
               static_cast<uint32_t>(p[4 * i + 2]) << 16 |
               static_cast<uint32_t>(p[4 * i + 3]) << 24;
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3];
    for (int i = 0; i < 64; ++i) {
        uint32_t f;
        int g;
        int round = i / 16;
        switch (round) {
        case 0:
            f = (b & c) | (~b & d);
            g = i;
            break;
        case 1:
            f = (b & d) | (c & ~d);
            g = (5 * i + 1) % 16;
            break;
        case 2:
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
            break;
        default:
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
            break;
        }
        uint32_t tmp = d;
        d = c;
        c = b;
        b = b + rotl(a + f + sine.t[i] + m[g], shifts[round][i % 4]);
        a = tmp;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
}

void Md5::update(const void *data, std::size_t len)
{
    const auto *p = static_cast<const uint8_t *>(data);
    total_ += len;
    if (used_ > 0) {
        std::size_t take = 64 - used_ < len ? 64 - used_ : len;
        std::memcpy(buf_ + used_, p, take);
        used_ += take;
        p += take;
        len -= take;
        if (used_ < 64)
            return;
        block(buf_);
        used_ = 0;
    }
    while (len >= 64) {
        block(p);
        p += 64;
        len -= 64;
    }
    if (len > 0) {
        std::memcpy(buf_, p, len);
        used_ = len;
    }
}

Digest Md5::finish()
{
    uint64_t bits = total_ * 8;
    uint8_t pad[72] = {0x80};
    std::size_t padlen = (used_ < 56) ? 56 - used_ : 120 - used_;
    uint8_t lenle[8];
    for (int i = 0; i < 8; ++i)
        lenle[i] = static_cast<uint8_t>(bits >> (8 * i));
    update(pad, padlen);
    update(lenle, 8);
    Digest out;
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
            out[4 * i + j] = static_cast<uint8_t>(h_[i] >> (8 * j));
    reset();
    return out;
}

Digest md5(const void *data, std::size_t len)
{
    Md5 m;
    m.update(data, len);
    return m.finish();
}

std::string hex(const Digest &d)
{
    static const char digits[] = "0123456789abcdef";
    std::string s(32, '0');
    for (std::size_t i = 0; i < 16; ++i) {
        s[2 * i] = digits[d[i] >> 4];
        s[2 * i + 1] = digits[d[i] & 15];
    }
    return s;
}

} // namespace mbox
