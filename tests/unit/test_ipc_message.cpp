// test_ipc_message.cpp - ipc::Message framing and its SEQPACKET transport:
// round trips, descriptors passed along, and every malformed datagram a
// compromised peer could send refused (with its descriptors closed).
#include "ipc/message.hpp"
#include "process/session_process.hpp"

#include <cstring>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace modpop3d;

namespace
{

struct Pair {
    int fd[2];
    Pair() { EXPECT_TRUE(ipc::seqpacket_pair(fd)); }
    ~Pair()
    {
        close(fd[0]);
        close(fd[1]);
    }
};

} // namespace

TEST(IpcMessage, EncodeDecodeRoundTrip)
{
    ipc::Message m("auth");
    m.add("id", "42").add("secret", "p@ss word\xff").add("empty", "");
    std::string bytes;
    ASSERT_TRUE(ipc::encode(m, bytes));
    const char expected[] = "auth\0id\0"
                            "42\0secret\0p@ss word\xff\0empty\0";
    EXPECT_EQ(bytes, std::string(expected, sizeof expected)); // the final NUL included
    ipc::Message back;
    ASSERT_TRUE(ipc::decode(bytes, back));
    EXPECT_EQ(back.type, "auth");
    ASSERT_EQ(back.fields.size(), 3u);
    EXPECT_EQ(back.value("secret"), "p@ss word\xff");
    EXPECT_EQ(back.number("id"), 42u);
    EXPECT_EQ(back.value("empty"), "");
    EXPECT_EQ(back.get("missing"), nullptr);
}

TEST(IpcMessage, EncodeRefusesNulAndOversize)
{
    std::string bytes;
    ipc::Message nul("auth");
    nul.add("secret", std::string("a\0b", 3));
    EXPECT_FALSE(ipc::encode(nul, bytes));
    ipc::Message empty_key("auth");
    empty_key.add("", "x");
    EXPECT_FALSE(ipc::encode(empty_key, bytes));
    EXPECT_FALSE(ipc::encode(ipc::Message(""), bytes));
    ipc::Message big("auth");
    big.add("pending", std::string(ipc::max_message, 'x'));
    EXPECT_FALSE(ipc::encode(big, bytes));
}

TEST(IpcMessage, DecodeRefusesMalformedFraming)
{
    ipc::Message m;
    EXPECT_FALSE(ipc::decode("", m));
    EXPECT_FALSE(ipc::decode(std::string("auth", 4), m));        // no terminator
    EXPECT_FALSE(ipc::decode(std::string("\0", 1), m));          // empty type
    EXPECT_FALSE(ipc::decode(std::string("auth\0id\0", 8), m));  // key without value
    EXPECT_FALSE(ipc::decode(std::string("auth\0\0v\0", 8), m)); // empty key
    EXPECT_FALSE(ipc::decode(std::string("auth\0id\0"
                                         "1\0x",
                                         11),
                             m)); // trailing junk
    std::string many("auth", 5);
    for (std::size_t i = 0; i <= ipc::max_fields; ++i)
        many += std::string("k\0v\0", 4);
    EXPECT_FALSE(ipc::decode(many, m));
    EXPECT_TRUE(ipc::decode(std::string("auth\0id\0"
                                        "1\0",
                                        10),
                            m));
}

TEST(IpcMessage, NumbersAreStrict)
{
    ipc::Message m("x");
    m.add("a", "12").add("b", "-1").add("c", "1x").add("d", "").add("e", "99999999999999999999999");
    m.add("f", "65536");
    EXPECT_EQ(m.number("a"), 12u);
    EXPECT_FALSE(m.number("b"));
    EXPECT_FALSE(m.number("c"));
    EXPECT_FALSE(m.number("d"));
    EXPECT_FALSE(m.number("e"));
    EXPECT_FALSE(m.number("f", 65535));
    EXPECT_FALSE(m.number("missing"));
}

TEST(IpcTransport, SendsAMessageWithADescriptor)
{
    Pair p;
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    ipc::Message m("session");
    m.add("token", "t");
    ASSERT_EQ(ipc::send_message(p.fd[0], m, {pipe_fds[1]}), ipc::Io::ok);
    close(pipe_fds[1]);
    ipc::Message got;
    std::vector<int> fds;
    ASSERT_EQ(ipc::receive_message(p.fd[1], got, fds), ipc::Io::ok);
    EXPECT_EQ(got.type, "session");
    ASSERT_EQ(fds.size(), 1u);
    // The passed descriptor is the pipe's write end: what goes in comes out.
    ASSERT_EQ(write(fds[0], "z", 1), 1);
    char c = 0;
    ASSERT_EQ(read(pipe_fds[0], &c, 1), 1);
    EXPECT_EQ(c, 'z');
    EXPECT_NE(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, 0);
    close(fds[0]);
    close(pipe_fds[0]);
    EXPECT_EQ(ipc::receive_message(p.fd[1], got, fds), ipc::Io::again);
}

TEST(IpcTransport, MalformedDatagramIsRefusedAndItsDescriptorsClosed)
{
    Pair p;
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    // A raw datagram without its final NUL, carrying a descriptor.
    char data[] = {'a', 'u', 't', 'h'};
    iovec iov{data, sizeof data};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &pipe_fds[1], sizeof(int));
    ASSERT_EQ(sendmsg(p.fd[0], &msg, 0), 4);
    close(pipe_fds[1]);
    ipc::Message got;
    std::vector<int> fds;
    EXPECT_EQ(ipc::receive_message(p.fd[1], got, fds), ipc::Io::error);
    EXPECT_TRUE(fds.empty());
    // Every copy of the write end is closed: the read end sees EOF.
    char c;
    EXPECT_EQ(read(pipe_fds[0], &c, 1), 0);
    close(pipe_fds[0]);
}

TEST(IpcTransport, TooManyDescriptorsAreRefused)
{
    Pair p;
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ipc::Message m("x");
    EXPECT_EQ(ipc::send_message(p.fd[0], m, {devnull, devnull, devnull}), ipc::Io::error);
    close(devnull);
}

TEST(IpcTransport, PeerGoneIsReported)
{
    int fds[2];
    ASSERT_TRUE(ipc::seqpacket_pair(fds));
    close(fds[1]);
    ipc::Message got;
    std::vector<int> passed;
    EXPECT_EQ(ipc::receive_message(fds[0], got, passed), ipc::Io::closed);
    EXPECT_EQ(ipc::send_message(fds[0], ipc::Message("x")), ipc::Io::closed);
    close(fds[0]);
}

// The auth process answers a session's last hook request just as the
// session exits; the unread answer makes the kernel report ECONNRESET on the
// auth side, which must read as "peer gone", never as a malformed request.
TEST(IpcTransport, PeerGoneWithUnreadDataIsReportedAsClosed)
{
    int fds[2];
    ASSERT_TRUE(ipc::seqpacket_pair(fds));
    ASSERT_EQ(ipc::send_message(fds[0], ipc::Message("answer")), ipc::Io::ok);
    close(fds[1]); // exits without reading it
    ipc::Message got;
    std::vector<int> passed;
    EXPECT_EQ(ipc::receive_message(fds[0], got, passed, true), ipc::Io::closed);
    close(fds[0]);
}

TEST(SessionHandover, RoundTripAndValidation)
{
    ipc::SessionHandover h;
    h.token = std::string(32, 'a');
    h.tls = true;
    h.method = "APOP";
    h.login = "alice";
    h.pending = "STAT\r\nLIS";
    h.peer_ip = "127.0.0.1";
    h.peer_port = 40000;
    h.local_ip = "::1";
    h.local_port = 110;
    h.facts["client_ip"] = "127.0.0.1";
    ipc::SessionHandover back;
    std::string why;
    ASSERT_TRUE(back.from_message(h.to_message(), why)) << why;
    EXPECT_EQ(back.pending, "STAT\r\nLIS");
    EXPECT_TRUE(back.tls);
    EXPECT_EQ(back.method, "APOP");
    EXPECT_EQ(back.peer_port, 40000);
    EXPECT_EQ(back.facts.at("client_ip"), "127.0.0.1");

    auto refused = [&](auto change) {
        ipc::Message m = h.to_message();
        change(m);
        ipc::SessionHandover x;
        std::string w;
        return !x.from_message(m, w);
    };
    auto set = [](ipc::Message &m, const char *k, const char *v) {
        for (auto &[key, value] : m.fields)
            if (key == k)
                value = v;
    };
    EXPECT_TRUE(refused([&](ipc::Message &m) { set(m, "token", "short"); }));
    EXPECT_TRUE(refused([&](ipc::Message &m) { set(m, "token", std::string(32, 'G').c_str()); }));
    EXPECT_TRUE(refused([&](ipc::Message &m) { set(m, "method", "CRAM-MD5"); }));
    EXPECT_TRUE(refused([&](ipc::Message &m) { set(m, "tls", "2"); }));
    EXPECT_TRUE(refused([&](ipc::Message &m) { set(m, "peer_port", "70000"); }));
    EXPECT_TRUE(refused([&](ipc::Message &m) { set(m, "local_ip", ""); }));
    EXPECT_FALSE(refused([&](ipc::Message &m) { set(m, "method", "LOGIN"); }));
}
