// test_frame.cpp - the helper protocol's frame codec and socket I/O.
#include "frame.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace
{

namespace ap = modpop3d::auth_perl;

TEST(PerlFrame, RoundTripOverASocket)
{
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    std::string bytes;
    const ap::Pairs pairs{{"sub", "pass"}, {"user", "j\xc3\xb6rg"}, {"pass", ""}};
    ASSERT_TRUE(ap::encode('C', pairs, bytes));
    ASSERT_EQ(ap::send_all(sv[0], bytes, ap::now_us() + 1000000), ap::Io::ok);
    ap::Frame f;
    ASSERT_EQ(ap::recv_frame(sv[1], f, ap::now_us() + 1000000), ap::Io::ok);
    EXPECT_EQ(f.type, 'C');
    EXPECT_EQ(f.pairs, pairs);
    ASSERT_NE(f.find("user"), nullptr);
    EXPECT_EQ(f.find("missing"), nullptr);
    // Nothing more: a bounded wait times out; a closed peer reads as closed.
    EXPECT_EQ(ap::recv_frame(sv[1], f, ap::now_us() + 20000), ap::Io::timeout);
    close(sv[0]);
    EXPECT_EQ(ap::recv_frame(sv[1], f, ap::now_us() + 1000000), ap::Io::closed);
    close(sv[1]);
}

TEST(PerlFrame, RefusesWhatCannotBeFramed)
{
    std::string out;
    EXPECT_FALSE(ap::encode('R', {{"", "v"}}, out));
    EXPECT_FALSE(ap::encode('R', {{std::string("k\0", 2), "v"}}, out));
    EXPECT_FALSE(ap::encode('R', {{"k", std::string("a\0b", 3)}}, out));
    EXPECT_FALSE(ap::encode('R', {{"k", std::string(ap::max_frame, 'x')}}, out));
    EXPECT_TRUE(ap::encode('R', {}, out));
    ap::Frame f;
    EXPECT_FALSE(ap::decode("", 0, f));
    EXPECT_FALSE(ap::decode("Rk", 2, f));     // key without end
    EXPECT_FALSE(ap::decode("Rk\0v", 4, f));  // value without end
    EXPECT_FALSE(ap::decode("R\0v\0", 4, f)); // empty key
    EXPECT_TRUE(ap::decode("Rk\0v\0", 5, f));
}

TEST(PerlFrame, OversizedLengthIsAnError)
{
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    const uint32_t len = static_cast<uint32_t>(ap::max_frame + 1);
    ASSERT_EQ(write(sv[0], &len, 4), 4);
    ap::Frame f;
    EXPECT_EQ(ap::recv_frame(sv[1], f, ap::now_us() + 1000000), ap::Io::error);
    close(sv[0]);
    close(sv[1]);
}

} // namespace
