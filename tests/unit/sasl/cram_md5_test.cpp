// cram_md5_test.cpp - CRAM-MD5 server (core/sasl/cram_md5): the RFC 2195
// example, wrong digests, unknown users and malformed responses.
#include "sasl/cram_md5.hpp"

#include <gtest/gtest.h>

using namespace modpop3d::sasl;
using Kind = StepResult::Kind;

namespace
{

const std::string rfc_challenge = "<1896.697170952@postoffice.reston.mci.net>";

std::unique_ptr<Mechanism> rfc_mechanism()
{
    Options o;
    o.hostname = "postoffice.reston.mci.net";
    o.nonce = [] { return std::string("1896.697170952"); };
    return make_mechanism("CRAM-MD5", o);
}

} // namespace

TEST(CramMd5, Rfc2195Example)
{
    auto m = rfc_mechanism();
    ASSERT_TRUE(m);
    StepResult r = m->start(std::nullopt);
    ASSERT_EQ(r.kind, Kind::challenge);
    EXPECT_EQ(r.data, rfc_challenge);
    r = m->step("tim b913a602c7eda7a495b4e6e7334d3890");
    ASSERT_EQ(r.kind, Kind::need_credentials);
    EXPECT_EQ(r.data, "tim");
    EXPECT_EQ(m->user(), "tim");
    r = m->credentials({true, "{PLAIN}tanstaaftanstaaf"});
    EXPECT_EQ(r.kind, Kind::success);
    EXPECT_EQ(r.data, "");
    EXPECT_EQ(cram_md5_response("tanstaaftanstaaf", rfc_challenge),
              "b913a602c7eda7a495b4e6e7334d3890");
}

TEST(CramMd5, UpperCaseDigestAndEmptyInitialResponseAccepted)
{
    auto m = rfc_mechanism();
    ASSERT_EQ(m->start(std::string()).kind, Kind::challenge);
    ASSERT_EQ(m->step("tim B913A602C7EDA7A495B4E6E7334D3890").kind, Kind::need_credentials);
    EXPECT_EQ(m->credentials({true, "{PLAIN}tanstaaftanstaaf"}).kind, Kind::success);
}

TEST(CramMd5, WrongSecretUnknownUserAndHashedSecretFail)
{
    for (const Credentials &c :
         {Credentials{true, "{PLAIN}tanstaaftanstaafX"}, Credentials{false, ""},
          Credentials{true, "{SHA256}aGVsbG8="}, Credentials{true, "tanstaaftanstaaf"}}) {
        auto m = rfc_mechanism();
        m->start(std::nullopt);
        ASSERT_EQ(m->step("tim b913a602c7eda7a495b4e6e7334d3890").kind, Kind::need_credentials);
        EXPECT_EQ(m->credentials(c).kind, Kind::failure) << c.secret;
    }
}

TEST(CramMd5, MalformedResponsesFail)
{
    for (std::string_view bad :
         {"", "tim", "tim ", " b913a602c7eda7a495b4e6e7334d3890",
          "tim b913a602c7eda7a495b4e6e7334d389", "tim b913a602c7eda7a495b4e6e7334d38900",
          "tim g913a602c7eda7a495b4e6e7334d3890", "tim b913a602c7eda7a495b4e6e7334d389 "}) {
        auto m = rfc_mechanism();
        m->start(std::nullopt);
        EXPECT_EQ(m->step(bad).kind, Kind::failure) << bad;
        // Finished: no further step succeeds.
        EXPECT_EQ(m->credentials({true, "{PLAIN}tanstaaftanstaaf"}).kind, Kind::failure);
    }
}

TEST(CramMd5, InitialResponseRefused)
{
    auto m = rfc_mechanism();
    EXPECT_EQ(m->start(std::string("tim")).kind, Kind::failure);
}

TEST(CramMd5, OutOfOrderCallsFail)
{
    auto m = rfc_mechanism();
    EXPECT_EQ(m->step("tim b913a602c7eda7a495b4e6e7334d3890").kind, Kind::failure);
    auto m2 = rfc_mechanism();
    m2->start(std::nullopt);
    EXPECT_EQ(m2->credentials({true, "{PLAIN}x"}).kind, Kind::failure);
}

TEST(CramMd5, DefaultChallengesAreUniqueAndWellFormed)
{
    Options o;
    o.hostname = "pop.example.org";
    o.time = 1234567890;
    auto a = make_mechanism("CRAM-MD5", o)->start(std::nullopt).data;
    auto b = make_mechanism("CRAM-MD5", o)->start(std::nullopt).data;
    EXPECT_NE(a, b);
    for (const std::string &c : {a, b}) {
        EXPECT_EQ(c.front(), '<');
        EXPECT_EQ(c.back(), '>');
        EXPECT_NE(c.find(".1234567890@pop.example.org>"), std::string::npos) << c;
        EXPECT_GT(c.size(), std::string("<.1234567890@pop.example.org>").size() + 16);
    }
}

TEST(CramMd5, ComputedResponseOfADefaultChallengeIsAccepted)
{
    Options o;
    o.hostname = "h";
    auto m = make_mechanism("CRAM-MD5", o);
    const std::string challenge = m->start(std::nullopt).data;
    ASSERT_EQ(m->step("alice " + cram_md5_response("s3cret", challenge)).kind,
              Kind::need_credentials);
    EXPECT_EQ(m->credentials({true, "{PLAIN}s3cret"}).kind, Kind::success);
}
