// test_cidr.cpp - address ranges for plaintext-trusted-networks.
#include "address/cidr.hpp"

#include <gtest/gtest.h>

using modpop3d::address::Cidr;
using modpop3d::address::cidr_contains;
using modpop3d::address::parse_cidr_list;

TEST(Cidr, Ipv4RangesAndSingleAddresses)
{
    std::vector<Cidr> r;
    std::string why;
    ASSERT_TRUE(parse_cidr_list("10.0.0.0/8, 192.0.2.7 172.16.0.0/12", r, why)) << why;
    EXPECT_EQ(r.size(), 3u);
    EXPECT_TRUE(cidr_contains(r, "10.255.1.2"));
    EXPECT_FALSE(cidr_contains(r, "11.0.0.1"));
    EXPECT_TRUE(cidr_contains(r, "192.0.2.7"));
    EXPECT_FALSE(cidr_contains(r, "192.0.2.8"));
    EXPECT_TRUE(cidr_contains(r, "172.31.255.255"));
    EXPECT_FALSE(cidr_contains(r, "172.32.0.0"));
    EXPECT_TRUE(cidr_contains(r, "::ffff:10.1.2.3")) << "IPv4-mapped form is the same address";
    EXPECT_FALSE(cidr_contains(r, "not an address"));
}

TEST(Cidr, Ipv6RangesDoNotMatchIpv4)
{
    std::vector<Cidr> r;
    std::string why;
    ASSERT_TRUE(parse_cidr_list("2001:db8::/32,fd00::/8", r, why)) << why;
    EXPECT_TRUE(cidr_contains(r, "2001:db8:1::5"));
    EXPECT_FALSE(cidr_contains(r, "2001:db9::1"));
    EXPECT_TRUE(cidr_contains(r, "fdff::1"));
    EXPECT_FALSE(cidr_contains(r, "10.0.0.1"));
}

TEST(Cidr, OddPrefixLengthsAndZero)
{
    std::vector<Cidr> r;
    std::string why;
    ASSERT_TRUE(parse_cidr_list("192.168.4.0/23", r, why));
    EXPECT_TRUE(cidr_contains(r, "192.168.5.200"));
    EXPECT_FALSE(cidr_contains(r, "192.168.6.1"));
    ASSERT_TRUE(parse_cidr_list("0.0.0.0/0", r, why));
    EXPECT_TRUE(cidr_contains(r, "203.0.113.9"));
    EXPECT_FALSE(cidr_contains(r, "2001:db8::1")) << "an IPv4 /0 covers IPv4 only";
    ASSERT_TRUE(parse_cidr_list("", r, why));
    EXPECT_FALSE(cidr_contains(r, "127.0.0.1"));
}

TEST(Cidr, ErrorsNameTheItem)
{
    std::vector<Cidr> r;
    std::string why;
    EXPECT_FALSE(parse_cidr_list("10.0.0.0/33", r, why));
    EXPECT_NE(why.find("'10.0.0.0/33'"), std::string::npos) << why;
    EXPECT_FALSE(parse_cidr_list("::/129", r, why));
    EXPECT_FALSE(parse_cidr_list("10.0.0.0/x", r, why));
    EXPECT_FALSE(parse_cidr_list("10.0.0.0/", r, why));
    EXPECT_FALSE(parse_cidr_list("example.org", r, why));
    EXPECT_NE(why.find("example.org"), std::string::npos);
}
