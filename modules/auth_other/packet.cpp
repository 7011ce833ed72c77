// packet.cpp - tpop3d auth-other packet encoding and incremental decoding.
//
// tpop3d's reader stops at the first "\0\0" in the byte stream, which makes
// an empty value at the end of a read look like the end of the packet. We
// parse pair by pair instead: the packet ends only where a key would start
// and is empty.
#include "packet.hpp"

#include <cstring>

namespace modpop3d::auth_other
{

bool encode(const Pairs &pairs, std::string &out)
{
    out.clear();
    for (const auto &[key, value] : pairs) {
        if (key.empty() || key.find('\0') != std::string::npos ||
            value.find('\0') != std::string::npos)
            return false;
        out.append(key).push_back('\0');
        out.append(value).push_back('\0');
        if (out.size() + 1 > max_packet)
            return false;
    }
    out.push_back('\0');
    return true;
}

Decoder::State Decoder::fail(const char *why)
{
    error_ = why;
    pairs_.clear();
    return state_ = State::error;
}

Decoder::State Decoder::feed(const char *data, std::size_t len)
{
    if (state_ != State::need_more)
        return state_;
    // Bytes after a complete packet are caught by parse(); bytes beyond the
    // limit are refused before they are stored.
    if (len > max_packet - buf_.size())
        return fail("reply longer than 4096 bytes");
    buf_.append(data, len);
    return parse();
}

Decoder::State Decoder::parse()
{
    pairs_.clear();
    std::size_t pos = 0;
    for (;;) {
        const std::size_t kend = buf_.find('\0', pos);
        if (kend == std::string::npos)
            return state_ = State::need_more;
        if (kend == pos) {
            // The empty key: end of packet. Anything after it means the
            // helper and we no longer agree on where packets start.
            if (kend + 1 != buf_.size())
                return fail("bytes after the end of the reply");
            return state_ = State::done;
        }
        for (std::size_t i = pos; i < kend; ++i) {
            const auto c = static_cast<unsigned char>(buf_[i]);
            if (c < 0x21 || c > 0x7e)
                return fail("a key holds a byte that is not printable ASCII");
        }
        const std::size_t vend = buf_.find('\0', kend + 1);
        if (vend == std::string::npos)
            return state_ = State::need_more;
        std::string key = buf_.substr(pos, kend - pos);
        if (find(key) != nullptr)
            return fail("a key appears twice in the reply");
        pairs_.emplace_back(std::move(key), buf_.substr(kend + 1, vend - kend - 1));
        pos = vend + 1;
    }
}

const std::string *Decoder::find(const std::string &key) const
{
    for (const auto &[k, v] : pairs_) {
        if (k == key)
            return &v;
    }
    return nullptr;
}

} // namespace modpop3d::auth_other
