// test_listener.cpp - what accepted connections take from their listener:
// TCP_NODELAY (set once on the listening socket) and the local address.
#include "net/listener.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace modpop3d::net;

namespace
{

Listener listen_on(const std::string &address)
{
    modpop3d::address::ListenSpec spec;
    spec.address = address;
    spec.port = 0; // any free port
    spec.text = address + ":0";
    Listener l;
    std::string why;
    EXPECT_TRUE(open_listener(spec, l, why)) << why;
    return l;
}

int port_of(int fd)
{
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    return ntohs(a.sin_port);
}

// connect_and_accept - the accepted socket of a loopback connection.
int connect_and_accept(int listen_fd, int &client)
{
    client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_of(listen_fd)));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(client, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
    pollfd p{listen_fd, POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 5000), 1);
    return accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
}

int nodelay(int fd)
{
    int v = -1;
    socklen_t len = sizeof v;
    getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len);
    return v;
}

} // namespace

TEST(Listener, AcceptedConnectionsInheritNoDelay)
{
    Listener l = listen_on("127.0.0.1");
    ASSERT_GE(l.fd, 0);
    int client = -1;
    int before = connect_and_accept(l.fd, client);
    ASSERT_GE(before, 0);
    EXPECT_EQ(nodelay(before), 0); // what the kernel gives without the option
    set_accept_options(l.fd);
    int client2 = -1;
    int after = connect_and_accept(l.fd, client2);
    ASSERT_GE(after, 0);
    EXPECT_NE(nodelay(after), 0); // the server no longer sets it per connection
    for (int fd : {before, after, client, client2, l.fd})
        close(fd);
}

TEST(Listener, BoundEndpointIsKnownOnlyForOneAddress)
{
    Listener one = listen_on("127.0.0.1");
    auto e = bound_endpoint(one.fd);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->ip, "127.0.0.1");
    EXPECT_EQ(e->port, port_of(one.fd));
    EXPECT_TRUE(e->loopback);
    Listener any = listen_on("0.0.0.0");
    EXPECT_FALSE(bound_endpoint(any.fd).has_value());
    Listener any6 = listen_on("::");
    ASSERT_GE(any6.fd, 0);
    EXPECT_FALSE(bound_endpoint(any6.fd).has_value());
    for (int fd : {one.fd, any.fd, any6.fd})
        close(fd);
}
