// digest_test.cpp - the codecs and primitives under the password schemes:
// strict hex/base64 and the OpenSSL wrappers against published values.
#include "password/password_digest.hpp"

#include <gtest/gtest.h>

namespace d = modpop3d::password::digest;

namespace
{

std::string text(const d::Bytes &b)
{
    return std::string(b.begin(), b.end());
}

TEST(Digest, Base64RoundTripsAndIsStrict)
{
    // RFC 4648 section 10 test vectors.
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; ++i) {
        EXPECT_EQ(d::base64_encode(plain[i]), coded[i]);
        auto back = d::base64_decode(coded[i]);
        ASSERT_TRUE(back.has_value()) << coded[i];
        EXPECT_EQ(text(*back), plain[i]);
    }
    for (const char *bad :
         {"Zg=", "Zg", "Z===", "Zm9v\n", "Zm 9", "Zh==", "=Zm9", "Zg==Zg==", "Zm9v!A==", "Zm=v"})
        EXPECT_FALSE(d::base64_decode(bad).has_value()) << bad;
}

TEST(Digest, HexAcceptsBothCasesOnly)
{
    auto a = d::hex_decode("00fFa0");
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(text(*a), std::string("\x00\xff\xa0", 3));
    EXPECT_FALSE(d::hex_decode("0").has_value());
    EXPECT_FALSE(d::hex_decode("0g").has_value());
    EXPECT_FALSE(d::hex_decode(" 0").has_value());
    EXPECT_EQ(d::hex_encode(std::string("\x00\xff", 2)), "00ff");
    EXPECT_EQ(d::hex_encode(std::string("\x00\xff", 2), true), "00FF");
}

TEST(Digest, KnownDigests)
{
    // Values from `printf abc | openssl dgst -md5|-sha1|-sha256`.
    EXPECT_EQ(d::hex_encode(d::as_text(d::md5("abc"))), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(d::hex_encode(d::as_text(d::sha1("abc"))),
              "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(d::hex_encode(d::as_text(d::sha256("abc"))),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // RFC 4231 test case 2.
    EXPECT_EQ(d::hex_encode(d::as_text(d::hmac_sha256("Jefe", "what do ya want for nothing?"))),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Digest, EqualComparesContentAndLength)
{
    EXPECT_TRUE(d::equal("abc", "abc"));
    EXPECT_TRUE(d::equal("", ""));
    EXPECT_FALSE(d::equal("abc", "abd"));
    EXPECT_FALSE(d::equal("abc", "abcd"));
}

TEST(Digest, RandomBytesDiffer)
{
    unsigned char a[32] = {}, b[32] = {};
    d::random_bytes(a, sizeof a);
    d::random_bytes(b, sizeof b);
    EXPECT_NE(d::as_text(a, sizeof a), d::as_text(b, sizeof b));
}

} // namespace
