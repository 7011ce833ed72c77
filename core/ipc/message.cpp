// message.cpp - encoding and the SEQPACKET transport of ipc::Message
// (see message.hpp).
#include "ipc/message.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <sys/socket.h>
#include <unistd.h>

namespace modpop3d::ipc
{

const std::string *Message::get(std::string_view key) const
{
    for (const auto &[k, v] : fields)
        if (k == key)
            return &v;
    return nullptr;
}

std::string Message::value(std::string_view key) const
{
    const std::string *v = get(key);
    return v ? *v : std::string();
}

std::optional<uint64_t> parse_number(std::string_view text, uint64_t max)
{
    if (text.empty() || text.size() > 20)
        return std::nullopt;
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || p != text.data() + text.size() || n > max)
        return std::nullopt;
    return n;
}

std::optional<uint64_t> Message::number(std::string_view key, uint64_t max) const
{
    const std::string *v = get(key);
    return v ? parse_number(*v, max) : std::nullopt;
}

void Message::wipe()
{
    for (auto &[k, v] : fields)
        std::fill(v.begin(), v.end(), '\0');
}

bool encode(const Message &m, std::string &out)
{
    auto has_nul = [](const std::string &s) { return s.find('\0') != std::string::npos; };
    if (m.type.empty() || has_nul(m.type) || m.fields.size() > max_fields)
        return false;
    std::size_t size = m.type.size() + 1;
    for (const auto &[k, v] : m.fields) {
        if (k.empty() || has_nul(k) || has_nul(v))
            return false;
        size += k.size() + v.size() + 2;
    }
    if (size > max_message)
        return false;
    out.clear();
    out.reserve(size);
    out.append(m.type).push_back('\0');
    for (const auto &[k, v] : m.fields) {
        out.append(k).push_back('\0');
        out.append(v).push_back('\0');
    }
    return true;
}

bool decode(std::string_view bytes, Message &m)
{
    m = Message();
    if (bytes.empty() || bytes.size() > max_message || bytes.back() != '\0')
        return false;
    auto next = [&](std::string &out) {
        std::size_t end = bytes.find('\0');
        out.assign(bytes.substr(0, end));
        bytes.remove_prefix(end + 1);
    };
    next(m.type);
    if (m.type.empty())
        return false;
    while (!bytes.empty()) {
        if (m.fields.size() == max_fields)
            return false;
        std::string key, value;
        next(key);
        if (key.empty() || bytes.empty())
            return false; // an empty key, or a key without its value
        next(value);
        m.fields.emplace_back(std::move(key), std::move(value));
    }
    return true;
}

Io send_message(int socket, const Message &m, const std::vector<int> &fds, bool nonblocking)
{
    std::string bytes;
    if (!encode(m, bytes))
        return Io::error;
    Io r = send_encoded(socket, bytes, fds, nonblocking);
    std::fill(bytes.begin(), bytes.end(), '\0'); // wiped only after the last try
    return r;
}

Io send_encoded(int socket, std::string_view bytes, const std::vector<int> &fds, bool nonblocking)
{
    if (fds.size() > max_fds || bytes.size() > max_message)
        return Io::error;
    iovec iov{const_cast<char *>(bytes.data()), bytes.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds)];
    if (!fds.empty()) {
        std::memset(control, 0, sizeof control);
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t n;
    do {
        n = sendmsg(socket, &msg, MSG_NOSIGNAL | (nonblocking ? MSG_DONTWAIT : 0));
    } while (n < 0 && errno == EINTR);
    int saved = errno;
    if (n == static_cast<ssize_t>(iov.iov_len))
        return Io::ok;
    if (n < 0 && (saved == EAGAIN || saved == EWOULDBLOCK))
        return Io::again;
    return n < 0 && (saved == EPIPE || saved == ECONNRESET) ? Io::closed : Io::error;
}

Io receive_message(int socket, Message &m, std::vector<int> &fds, bool nonblocking)
{
    fds.clear();
    // One buffer per thread, allocated once: a fresh zeroed 64 KiB per
    // message cost a memset and page faults on every login. What a message
    // leaves in it is wiped before returning, so no secret stays behind.
    thread_local const std::unique_ptr<char[]> storage(new char[max_message + 1]());
    char *const buf = storage.get();
    iovec iov{buf, max_message + 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * (max_fds + 2))];
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC | (nonblocking ? MSG_DONTWAIT : 0));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return Io::again;
    if (n < 0)
        // A peer that exits with datagrams still unread in its queue leaves
        // ECONNRESET here, not an end of file: it is gone all the same.
        return errno == ECONNRESET ? Io::closed : Io::error;
    for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            fds.push_back(fd);
        }
    }
    auto reject = [&] {
        for (int fd : fds)
            close(fd);
        fds.clear();
        std::fill(buf, buf + std::min<std::size_t>(static_cast<std::size_t>(n), max_message + 1),
                  '\0');
        return Io::error;
    };
    if (n == 0 && fds.empty())
        return Io::closed;
    if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || fds.size() > max_fds)
        return reject();
    if (!decode(std::string_view(buf, static_cast<std::size_t>(n)), m))
        return reject();
    std::fill(buf, buf + n, '\0');
    return Io::ok;
}

bool seqpacket_pair(int fds[2])
{
    return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0;
}

} // namespace modpop3d::ipc
