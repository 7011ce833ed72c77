// test_proxy_protocol.cpp - PROXY protocol v1 and v2 header parsing.
#include "net/proxy_protocol.hpp"

#include <gtest/gtest.h>

using namespace modpop3d::net;

namespace
{

std::string v2(unsigned char ver_cmd, unsigned char fam, const std::string &body)
{
    std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
    h += static_cast<char>(ver_cmd);
    h += static_cast<char>(fam);
    h += static_cast<char>(body.size() >> 8);
    h += static_cast<char>(body.size() & 0xff);
    return h + body;
}

} // namespace

TEST(ProxyV1, Tcp4AndTcp6)
{
    ProxyHeader h;
    std::string in = "PROXY TCP4 192.0.2.10 198.51.100.1 51234 110\r\nUSER x\r\n";
    ASSERT_EQ(parse_proxy_header(in, h), ProxyStatus::done) << h.error;
    EXPECT_EQ(h.source_ip, "192.0.2.10");
    EXPECT_EQ(h.dest_ip, "198.51.100.1");
    EXPECT_EQ(h.source_port, 51234);
    EXPECT_EQ(h.dest_port, 110);
    EXPECT_EQ(h.length, in.find("USER"));
    EXPECT_FALSE(h.local);
    ASSERT_EQ(parse_proxy_header("PROXY TCP6 2001:DB8::1 ::1 1 995\r\n", h), ProxyStatus::done);
    EXPECT_EQ(h.source_ip, "2001:db8::1") << "addresses are given in canonical form";
    ASSERT_EQ(parse_proxy_header("PROXY UNKNOWN whatever\r\n", h), ProxyStatus::done);
    EXPECT_TRUE(h.local);
}

TEST(ProxyV1, PrefixesNeedMoreAndJunkIsAnError)
{
    ProxyHeader h;
    EXPECT_EQ(parse_proxy_header("", h), ProxyStatus::need_more);
    EXPECT_EQ(parse_proxy_header("PRO", h), ProxyStatus::need_more);
    EXPECT_EQ(parse_proxy_header("PROXY TCP4 1.2.3.4", h), ProxyStatus::need_more);
    EXPECT_EQ(parse_proxy_header("USER alice\r\n", h), ProxyStatus::error);
    EXPECT_EQ(h.error, "no PROXY header where one is required");
    EXPECT_EQ(parse_proxy_header("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", h), ProxyStatus::error);
    EXPECT_EQ(parse_proxy_header("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", h), ProxyStatus::error);
    EXPECT_EQ(parse_proxy_header("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", h), ProxyStatus::error);
    EXPECT_EQ(parse_proxy_header("PROXY TCP4 ::1 ::1 1 2\r\n", h), ProxyStatus::error)
        << "TCP4 with IPv6 addresses";
    EXPECT_EQ(parse_proxy_header("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", h), ProxyStatus::need_more)
        << "LF alone is not the end";
    std::string longline = "PROXY TCP4 " + std::string(120, '1');
    EXPECT_EQ(parse_proxy_header(longline, h), ProxyStatus::error);
}

TEST(ProxyV2, Ipv4Ipv6LocalAndTlvs)
{
    ProxyHeader h;
    std::string body4 = {'\xc0', '\x00', '\x02', '\x0a', '\xc6', '\x33',
                         '\x64', '\x01', '\xc8', '\x22', '\x00', '\x6e'};
    std::string in = v2(0x21, 0x11, body4) + "rest";
    ASSERT_EQ(parse_proxy_header(in, h), ProxyStatus::done) << h.error;
    EXPECT_EQ(h.source_ip, "192.0.2.10");
    EXPECT_EQ(h.dest_ip, "198.51.100.1");
    EXPECT_EQ(h.source_port, 51234);
    EXPECT_EQ(h.dest_port, 110);
    EXPECT_EQ(h.length, in.size() - 4);
    // TLVs after the addresses are skipped.
    std::string tlv = body4 + std::string("\x04\x00\x03"
                                          "abc",
                                          6);
    ASSERT_EQ(parse_proxy_header(v2(0x21, 0x11, tlv), h), ProxyStatus::done);
    EXPECT_EQ(h.length, 16 + tlv.size());
    std::string body6(36, '\0');
    body6[0] = '\x20';
    body6[1] = '\x01';
    body6[15] = '\x05';
    body6[31] = '\x01';
    body6[33] = '\x07';
    ASSERT_EQ(parse_proxy_header(v2(0x21, 0x21, body6), h), ProxyStatus::done);
    EXPECT_EQ(h.source_ip, "2001::5");
    EXPECT_EQ(h.dest_ip, "::1");
    EXPECT_EQ(h.source_port, 7);
    ASSERT_EQ(parse_proxy_header(v2(0x20, 0x00, ""), h), ProxyStatus::done);
    EXPECT_TRUE(h.local) << "LOCAL: a health check";
}

TEST(ProxyV2, TruncationAndBadFields)
{
    ProxyHeader h;
    std::string full = v2(0x21, 0x11, std::string(12, '\1'));
    for (std::size_t n = 0; n < full.size(); ++n)
        EXPECT_EQ(parse_proxy_header(full.substr(0, n), h), ProxyStatus::need_more) << n;
    EXPECT_EQ(parse_proxy_header(v2(0x31, 0x11, std::string(12, '\1')), h), ProxyStatus::error);
    EXPECT_EQ(parse_proxy_header(v2(0x22, 0x11, std::string(12, '\1')), h), ProxyStatus::error);
    EXPECT_EQ(parse_proxy_header(v2(0x21, 0x11, std::string(8, '\1')), h), ProxyStatus::error);
    EXPECT_EQ(parse_proxy_header(v2(0x21, 0x31, std::string(216, '\1')), h), ProxyStatus::error)
        << "AF_UNIX is not a client address";
    EXPECT_EQ(parse_proxy_header(v2(0x21, 0x11, std::string(2000, '\1')), h), ProxyStatus::error)
        << "over the size bound";
}
