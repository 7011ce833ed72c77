// frame.cpp - framing and socket I/O between the auth process and its Perl
// helpers (see frame.hpp).
#include "frame.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace modpop3d::auth_perl
{

const std::string *Frame::find(const std::string &key) const
{
    for (const auto &kv : pairs)
        if (kv.first == key)
            return &kv.second;
    return nullptr;
}

bool encode(char type, const Pairs &pairs, std::string &out)
{
    out.assign(4, '\0');
    out.push_back(type);
    for (const auto &[k, v] : pairs) {
        if (k.empty() || k.find('\0') != std::string::npos || v.find('\0') != std::string::npos)
            return false;
        out.append(k).push_back('\0');
        out.append(v).push_back('\0');
        if (out.size() - 4 > max_frame)
            return false;
    }
    const uint32_t len = static_cast<uint32_t>(out.size() - 4);
    std::memcpy(out.data(), &len, 4);
    return true;
}

bool decode(const char *data, std::size_t len, Frame &out)
{
    if (len == 0)
        return false;
    out.type = data[0];
    out.pairs.clear();
    std::size_t i = 1;
    while (i < len) {
        const char *k = data + i;
        const void *kend = std::memchr(k, '\0', len - i);
        if (kend == nullptr)
            return false;
        const std::size_t klen = static_cast<std::size_t>(static_cast<const char *>(kend) - k);
        i += klen + 1;
        if (klen == 0 || i >= len)
            return false;
        const char *v = data + i;
        const void *vend = std::memchr(v, '\0', len - i);
        if (vend == nullptr)
            return false;
        const std::size_t vlen = static_cast<std::size_t>(static_cast<const char *>(vend) - v);
        i += vlen + 1;
        out.pairs.emplace_back(std::string(k, klen), std::string(v, vlen));
    }
    return true;
}

uint64_t now_us()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

namespace
{

// wait_for - poll `fd` for `events` until the deadline (0: forever).
Io wait_for(int fd, short events, uint64_t deadline_us)
{
    for (;;) {
        int ms = -1;
        if (deadline_us != 0) {
            const uint64_t now = now_us();
            if (now >= deadline_us)
                return Io::timeout;
            const uint64_t left = (deadline_us - now + 999) / 1000;
            ms = left > 60000 ? 60000 : static_cast<int>(left);
        }
        pollfd p{fd, events, 0};
        const int n = poll(&p, 1, ms);
        if (n > 0)
            return Io::ok; // readable, writable, or an error the next call reports
        if (n < 0 && errno != EINTR)
            return Io::error;
    }
}

Io recv_exact(int fd, char *buf, std::size_t len, uint64_t deadline_us)
{
    std::size_t off = 0;
    while (off < len) {
        const ssize_t n = recv(fd, buf + off, len - off, MSG_DONTWAIT);
        if (n > 0) {
            off += static_cast<std::size_t>(n);
            continue;
        }
        if (n == 0)
            return Io::closed;
        if (errno == EINTR)
            continue;
        if (errno == ECONNRESET)
            return Io::closed;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return Io::error;
        const Io w = wait_for(fd, POLLIN, deadline_us);
        if (w != Io::ok)
            return w;
    }
    return Io::ok;
}

} // namespace

Io send_all(int fd, const std::string &bytes, uint64_t deadline_us)
{
    std::size_t off = 0;
    while (off < bytes.size()) {
        const ssize_t n =
            send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return Io::closed;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return Io::error;
        const Io w = wait_for(fd, POLLOUT, deadline_us);
        if (w != Io::ok)
            return w;
    }
    return Io::ok;
}

Io recv_frame(int fd, Frame &out, uint64_t deadline_us)
{
    uint32_t len = 0;
    Io r = recv_exact(fd, reinterpret_cast<char *>(&len), 4, deadline_us);
    if (r != Io::ok)
        return r;
    if (len == 0 || len > max_frame)
        return Io::error;
    std::string body(len, '\0');
    r = recv_exact(fd, body.data(), len, deadline_us);
    if (r == Io::ok && !decode(body.data(), body.size(), out))
        r = Io::error;
    wipe(body);
    return r;
}

void wipe(std::string &s)
{
    explicit_bzero(s.data(), s.size());
}

} // namespace modpop3d::auth_perl
