// test_packet.cpp - tpop3d auth-other packet framing (packet.cpp) on its own.
#include "packet.hpp"

#include <gtest/gtest.h>

namespace
{

using modpop3d::auth_other::Decoder;
using modpop3d::auth_other::encode;
using modpop3d::auth_other::max_packet;
using modpop3d::auth_other::Pairs;

std::string bytes(const char *s, std::size_t n)
{
    return std::string(s, n);
}

TEST(Packet, EncodeFramesPairsAndTerminator)
{
    std::string out;
    ASSERT_TRUE(encode({{"method", "PASS"}, {"user", "a"}, {"pass", ""}}, out));
    EXPECT_EQ(out, bytes("method\0PASS\0user\0a\0pass\0\0\0", 26));
}

TEST(Packet, EncodeRefusesWhatCannotBeFramed)
{
    std::string out;
    EXPECT_FALSE(encode({{"", "x"}}, out));
    EXPECT_FALSE(encode({{"user", bytes("a\0b", 3)}}, out));
    EXPECT_FALSE(encode({{bytes("k\0", 2), "v"}}, out));
    EXPECT_FALSE(encode({{"pass", std::string(max_packet, 'x')}}, out));
    // Exactly at the limit is fine: 2 + 1 + value + 1 + terminator.
    EXPECT_TRUE(encode({{"k", std::string(max_packet - 4, 'x')}}, out));
    EXPECT_EQ(out.size(), max_packet);
}

TEST(Packet, DecodeWholeAndByteByByte)
{
    const std::string wire = bytes("result\0YES\0uid\0nobody\0logmsg\0\0\0", 31);
    Decoder whole;
    EXPECT_EQ(whole.feed(wire.data(), wire.size()), Decoder::State::done);
    ASSERT_EQ(whole.pairs().size(), 3u);
    EXPECT_EQ(*whole.find("result"), "YES");
    EXPECT_EQ(*whole.find("uid"), "nobody");
    EXPECT_EQ(*whole.find("logmsg"), ""); // empty value at the end is not the terminator
    EXPECT_EQ(whole.find("gid"), nullptr);

    Decoder slow;
    for (std::size_t i = 0; i + 1 < wire.size(); ++i)
        ASSERT_EQ(slow.feed(&wire[i], 1), Decoder::State::need_more) << "at byte " << i;
    EXPECT_EQ(slow.feed(&wire.back(), 1), Decoder::State::done);
    EXPECT_EQ(slow.pairs(), whole.pairs());
}

TEST(Packet, EmptyPacketIsComplete)
{
    Decoder d;
    EXPECT_EQ(d.feed("\0", 1), Decoder::State::done);
    EXPECT_TRUE(d.pairs().empty());
}

TEST(Packet, MalformedReplies)
{
    {
        Decoder d; // stray bytes after the terminator
        const std::string w = bytes("result\0NO\0\0xx", 13);
        EXPECT_EQ(d.feed(w.data(), w.size()), Decoder::State::error);
    }
    {
        Decoder d; // too long without a terminator
        const std::string w(max_packet + 1, 'A');
        EXPECT_EQ(d.feed(w.data(), w.size()), Decoder::State::error);
    }
    {
        Decoder d; // the limit is cumulative
        const std::string w(max_packet, 'A');
        EXPECT_EQ(d.feed(w.data(), w.size()), Decoder::State::need_more);
        EXPECT_EQ(d.feed("A", 1), Decoder::State::error);
        EXPECT_EQ(d.feed("\0", 1), Decoder::State::error); // stays failed
    }
    {
        Decoder d; // duplicate key
        const std::string w = bytes("result\0YES\0result\0NO\0\0", 22);
        EXPECT_EQ(d.feed(w.data(), w.size()), Decoder::State::error);
    }
    {
        Decoder d; // control bytes in a key
        const std::string w = bytes("res\nult\0YES\0\0", 13);
        EXPECT_EQ(d.feed(w.data(), w.size()), Decoder::State::error);
    }
    {
        Decoder d; // text without NUL: still waiting, never "done"
        EXPECT_EQ(d.feed("OK alice\n", 9), Decoder::State::need_more);
    }
}

TEST(Packet, RoundTrip)
{
    const Pairs in{{"method", "ONLOGIN"}, {"user", "a@b"}, {"clienthost", "::1"}, {"x", ""}};
    std::string wire;
    ASSERT_TRUE(encode(in, wire));
    Decoder d;
    ASSERT_EQ(d.feed(wire.data(), wire.size()), Decoder::State::done);
    EXPECT_EQ(d.pairs(), in);
}

} // namespace
