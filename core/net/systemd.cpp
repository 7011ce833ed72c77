// systemd.cpp - socket activation and sd_notify (see systemd.hpp).
#include "net/systemd.hpp"

#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace modpop3d::net
{

namespace
{

constexpr int first_activated_fd = 3; // SD_LISTEN_FDS_START

bool parse_number(const char *text, long &out)
{
    if (text == nullptr)
        return false;
    const char *end = text + std::strlen(text);
    auto [ptr, ec] = std::from_chars(text, end, out);
    return ec == std::errc() && ptr == end && out >= 0;
}

} // namespace

std::vector<int> activated_sockets()
{
    std::vector<int> fds;
    long pid = 0, count = 0;
    bool ours = parse_number(std::getenv("LISTEN_PID"), pid) && pid == getpid() &&
                parse_number(std::getenv("LISTEN_FDS"), count) && count > 0 && count < 256;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (!ours)
        return fds;
    for (int fd = first_activated_fd; fd < first_activated_fd + count; ++fd) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        fds.push_back(fd);
    }
    return fds;
}

void notify(const std::string &state)
{
    const char *path = std::getenv("NOTIFY_SOCKET");
    if (path == nullptr || path[0] == '\0')
        return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::size_t len = std::strlen(path);
    if (len >= sizeof addr.sun_path)
        return;
    std::memcpy(addr.sun_path, path, len);
    if (addr.sun_path[0] == '@')
        addr.sun_path[0] = '\0'; // abstract namespace
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    socklen_t alen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
    ssize_t ignored = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                             reinterpret_cast<sockaddr *>(&addr), alen);
    (void)ignored;
    close(fd);
}

} // namespace modpop3d::net
