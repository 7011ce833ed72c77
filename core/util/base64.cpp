// base64.cpp - strict RFC 4648 base64.
#include "util/base64.hpp"

#include <array>
#include <cstdint>

namespace modpop3d::base64
{

namespace
{

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// value_of - 0..63, or -1 for a byte outside the alphabet.
int value_of(char c) noexcept
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

} // namespace

std::string encode(std::string_view data)
{
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16 |
                           static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8 |
                           static_cast<unsigned char>(data[i + 2]);
        out += alphabet[v >> 18 & 63];
        out += alphabet[v >> 12 & 63];
        out += alphabet[v >> 6 & 63];
        out += alphabet[v & 63];
    }
    const std::size_t left = data.size() - i;
    if (left > 0) {
        uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16;
        if (left == 2)
            v |= static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
        out += alphabet[v >> 18 & 63];
        out += alphabet[v >> 12 & 63];
        out += left == 2 ? alphabet[v >> 6 & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> decode(std::string_view text)
{
    if (text.size() % 4 != 0)
        return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        std::array<int, 4> v{};
        int pad = 0;
        for (int j = 0; j < 4; ++j) {
            const char c = text[i + static_cast<std::size_t>(j)];
            if (c == '=' && last && j >= 2) {
                ++pad;
                v[static_cast<std::size_t>(j)] = 0;
                continue;
            }
            if (pad > 0) // data after padding
                return std::nullopt;
            v[static_cast<std::size_t>(j)] = value_of(c);
            if (v[static_cast<std::size_t>(j)] < 0)
                return std::nullopt;
        }
        const uint32_t bits = static_cast<uint32_t>(v[0]) << 18 |
                              static_cast<uint32_t>(v[1]) << 12 | static_cast<uint32_t>(v[2]) << 6 |
                              static_cast<uint32_t>(v[3]);
        out += static_cast<char>(bits >> 16 & 0xff);
        if (pad == 2) {
            if ((bits & 0xffff) != 0) // non-canonical: leftover bits set
                return std::nullopt;
            continue;
        }
        out += static_cast<char>(bits >> 8 & 0xff);
        if (pad == 1) {
            if ((bits & 0xff) != 0)
                return std::nullopt;
            continue;
        }
        out += static_cast<char>(bits & 0xff);
    }
    return out;
}

} // namespace modpop3d::base64
