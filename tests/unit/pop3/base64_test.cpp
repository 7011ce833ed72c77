// base64_test.cpp - RFC 4648 vectors and the strictness SASL needs.
#include "util/base64.hpp"

#include <gtest/gtest.h>
#include <string>

namespace modpop3d::pop3
{
namespace
{

using namespace std::string_literals;

TEST(Base64, Rfc4648Vectors)
{
    const std::pair<const char *, const char *> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto &[plain, encoded] : vectors) {
        EXPECT_EQ(base64::encode(plain), encoded);
        EXPECT_EQ(base64::decode(encoded), std::string(plain));
    }
}

TEST(Base64, BinaryRoundTrip)
{
    std::string all;
    for (int i = 0; i < 256; ++i)
        all += static_cast<char>(i);
    for (std::size_t len = 0; len <= all.size(); len += 37)
        EXPECT_EQ(base64::decode(base64::encode(all.substr(0, len))), all.substr(0, len));
    EXPECT_EQ(base64::decode("AGFsaWNlAHNlY3JldA=="), "\0alice\0secret"s);
}

TEST(Base64, InvalidInputIsRejected)
{
    for (const char *bad : {"Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm9v!", "Zm 9v",
                            "Zm9v\r\n", "Zh==", "Zm9=", "Zg=a", "*", "="})
        EXPECT_FALSE(base64::decode(bad)) << '"' << bad << '"';
}

} // namespace
} // namespace modpop3d::pop3
