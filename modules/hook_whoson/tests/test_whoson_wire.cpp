// test_whoson_wire.cpp - hook_whoson's pure parts on their own: the WHOSON
// request and reply forms (whoson_client.cpp) and the address parsing both
// network hooks share (modules/shared/netaddr.hpp).
#include "netaddr.hpp"
#include "whoson_client.hpp"

#include <gtest/gtest.h>

namespace
{

namespace ws = modpop3d::whoson;
namespace na = modpop3d::netaddr;

TEST(WhosonWire, RequestIsOneLineAndAnEmptyLine)
{
    EXPECT_EQ(ws::request_line("LOGIN", "192.0.2.1", "alice"), "LOGIN 192.0.2.1 alice\r\n\r\n");
    EXPECT_EQ(ws::request_line("LOGOUT", "2001:db8::1", ""), "LOGOUT 2001:db8::1\r\n\r\n");
}

TEST(WhosonWire, ReplyStatusCharacters)
{
    ws::Reply r;
    ASSERT_TRUE(ws::parse_reply("+LOGIN OK\r\n\r\n", r));
    EXPECT_EQ(r.outcome, ws::Outcome::positive);
    EXPECT_EQ(r.text, "LOGIN OK");
    ASSERT_TRUE(ws::parse_reply("-Not logged in\r\n\r\n", r));
    EXPECT_EQ(r.outcome, ws::Outcome::negative);
    ASSERT_TRUE(ws::parse_reply("*command parse error\r\n\r\n", r));
    EXPECT_EQ(r.outcome, ws::Outcome::error);
    ASSERT_TRUE(ws::parse_reply("+ok\n\n", r)); // bare LF accepted
    EXPECT_EQ(r.outcome, ws::Outcome::positive);
}

TEST(WhosonWire, IncompleteAndMalformedReplies)
{
    ws::Reply r;
    EXPECT_FALSE(ws::parse_reply("", r));
    EXPECT_FALSE(ws::parse_reply("+LOGIN OK\r\n", r)); // no empty line yet
    ASSERT_TRUE(ws::parse_reply("OK\r\n\r\n", r));
    EXPECT_EQ(r.outcome, ws::Outcome::malformed);
    ASSERT_TRUE(ws::parse_reply("+a\r\nb\r\n\r\n", r)); // two lines
    EXPECT_EQ(r.outcome, ws::Outcome::malformed);
    ASSERT_TRUE(ws::parse_reply("\r\n\r\n", r));
    EXPECT_EQ(r.outcome, ws::Outcome::malformed);
}

TEST(NetAddr, EndpointForms)
{
    na::Endpoint ep;
    EXPECT_EQ(na::parse_endpoint("127.0.0.1", ep), "");
    EXPECT_EQ(ep.family, AF_INET);
    EXPECT_EQ(ep.port, 0);
    EXPECT_EQ(na::parse_endpoint("127.0.0.1:9876", ep), "");
    EXPECT_EQ(ep.port, 9876);
    EXPECT_EQ(ep.text, "127.0.0.1");
    EXPECT_EQ(na::parse_endpoint("::1", ep), "");
    EXPECT_EQ(ep.family, AF_INET6);
    EXPECT_EQ(ep.port, 0);
    EXPECT_EQ(na::parse_endpoint("[::1]:2045", ep), "");
    EXPECT_EQ(ep.family, AF_INET6);
    EXPECT_EQ(ep.port, 2045);
    EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in6 *>(&ep.sa)->sin6_port), 2045);
    na::set_port(ep, 111);
    EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in6 *>(&ep.sa)->sin6_port), 111);
}

TEST(NetAddr, EndpointRefusals)
{
    na::Endpoint ep;
    EXPECT_NE(na::parse_endpoint("", ep), "");
    EXPECT_NE(na::parse_endpoint("localhost", ep), "");
    EXPECT_NE(na::parse_endpoint("127.0.0.1:", ep), "");
    EXPECT_NE(na::parse_endpoint("127.0.0.1:0", ep), "");
    EXPECT_NE(na::parse_endpoint("127.0.0.1:65536", ep), "");
    EXPECT_NE(na::parse_endpoint("127.0.0.1:12a", ep), "");
    EXPECT_NE(na::parse_endpoint("[::1", ep), "");
    EXPECT_NE(na::parse_endpoint("[::1]x", ep), "");
    EXPECT_NE(na::parse_endpoint("[::1]:", ep), "");
}

TEST(NetAddr, ClientAddresses)
{
    na::ClientAddress c;
    ASSERT_TRUE(na::parse_client("192.0.2.7", c));
    EXPECT_EQ(c.family, AF_INET);
    EXPECT_EQ(c.text, "192.0.2.7");
    EXPECT_EQ(c.bytes[0], 192);
    EXPECT_EQ(c.bytes[3], 7);
    // A dual-stack listener's IPv4 client is sent as IPv4.
    ASSERT_TRUE(na::parse_client("::ffff:192.0.2.8", c));
    EXPECT_EQ(c.family, AF_INET);
    EXPECT_EQ(c.text, "192.0.2.8");
    ASSERT_TRUE(na::parse_client("2001:DB8::1", c));
    EXPECT_EQ(c.family, AF_INET6);
    EXPECT_EQ(c.text, "2001:db8::1");
    EXPECT_FALSE(na::parse_client(nullptr, c));
    EXPECT_FALSE(na::parse_client("", c));
    EXPECT_FALSE(na::parse_client("192.0.2.1 x", c));
}

} // namespace
