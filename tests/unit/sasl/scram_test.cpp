// scram_test.cpp - SCRAM-SHA-256(-PLUS) server (core/sasl/scram): the
// RFC 7677 example, {PLAIN} secrets, unknown users, malformed messages,
// channel binding rules and iteration bounds. A small client below computes
// proofs the RFC 5802 way, independently of the server code.
#include "password/password_digest.hpp"
#include "password/password_scram.hpp"
#include "sasl/scram.hpp"

#include <gtest/gtest.h>

using namespace modpop3d::sasl;
namespace digest = modpop3d::password::digest;
using Kind = StepResult::Kind;

namespace
{

const std::string rfc_client_nonce = "rOprNGfwEbeRWgbNEkqO";
const std::string rfc_server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const std::string rfc_salt_b64 = "W22ZaJ0SNY7soEsUEjb6gQ==";
const std::string rfc_client_first = "n,,n=user,r=" + rfc_client_nonce;
const std::string rfc_server_first =
    "r=" + rfc_client_nonce + rfc_server_nonce + ",s=" + rfc_salt_b64 + ",i=4096";
const std::string rfc_client_final = "c=biws,r=" + rfc_client_nonce + rfc_server_nonce +
                                     ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const std::string rfc_server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

std::string rfc_verifier(uint32_t iterations = 4096)
{
    auto salt = digest::base64_decode(rfc_salt_b64);
    return modpop3d::password::format_scram_verifier(
        modpop3d::password::scram_compute("pencil", digest::as_text(*salt), iterations));
}

Options fixed(ChannelBinding cb = {}, bool plus_advertised = false)
{
    Options o;
    o.nonce = [] { return rfc_server_nonce; };
    o.mock_key = "a fixed key for the tests";
    o.binding = std::move(cb);
    o.plus_advertised = plus_advertised;
    return o;
}

// attr - the value of attribute `letter` in a server-first message.
std::string attr(const std::string &msg, char letter)
{
    std::string key = std::string(1, letter) + "=";
    std::size_t pos = msg.rfind(key, 0) == 0 ? 0 : msg.find("," + key);
    if (pos == std::string::npos)
        return "";
    if (pos != 0)
        ++pos;
    auto end = msg.find(',', pos);
    return msg.substr(pos + 2, end == std::string::npos ? std::string::npos : end - pos - 2);
}

// client_final - RFC 5802 section 3, client side: the final message for
// `server_first`, with `cbind_input` (gs2 header plus binding data) in c=.
std::string client_final(const std::string &password, const std::string &client_first_bare,
                         const std::string &server_first, const std::string &cbind_input,
                         std::string *server_signature = nullptr)
{
    auto salt = digest::base64_decode(attr(server_first, 's'));
    const uint32_t iterations = static_cast<uint32_t>(std::stoul(attr(server_first, 'i')));
    const digest::Sha256 salted =
        digest::pbkdf2_sha256(password, digest::as_text(*salt), iterations);
    const digest::Sha256 client_key = digest::hmac_sha256(digest::as_text(salted), "Client Key");
    const digest::Sha256 stored_key = digest::sha256(digest::as_text(client_key));
    const std::string without_proof =
        "c=" + digest::base64_encode(cbind_input) + ",r=" + attr(server_first, 'r');
    const std::string auth_message = client_first_bare + "," + server_first + "," + without_proof;
    const digest::Sha256 sig = digest::hmac_sha256(digest::as_text(stored_key), auth_message);
    std::string proof(32, '\0');
    for (int i = 0; i < 32; ++i)
        proof[i] = static_cast<char>(client_key[i] ^ sig[i]);
    if (server_signature != nullptr) {
        const digest::Sha256 server_key =
            digest::hmac_sha256(digest::as_text(salted), "Server Key");
        *server_signature = "v=" + digest::base64_encode(digest::as_text(digest::hmac_sha256(
                                       digest::as_text(server_key), auth_message)));
    }
    return without_proof + ",p=" + digest::base64_encode(proof);
}

// run - a whole exchange; returns the last result.
StepResult run(Mechanism &m, const std::string &gs2, const std::string &bare,
               const Credentials &creds, const std::string &password,
               const std::string &cbind_data = "")
{
    StepResult r = m.start(gs2 + bare);
    if (r.kind != Kind::need_credentials)
        return r;
    r = m.credentials(creds);
    if (r.kind != Kind::challenge)
        return r;
    std::string expect_v;
    r = m.step(client_final(password, bare, r.data, gs2 + cbind_data, &expect_v));
    if (r.kind == Kind::success) {
        EXPECT_EQ(r.data, expect_v);
    }
    return r;
}

} // namespace

TEST(Scram, Rfc7677Example)
{
    auto m = make_mechanism("SCRAM-SHA-256", fixed());
    ASSERT_TRUE(m);
    StepResult r = m->start(rfc_client_first);
    ASSERT_EQ(r.kind, Kind::need_credentials);
    EXPECT_EQ(r.data, "user");
    r = m->credentials({true, rfc_verifier()});
    ASSERT_EQ(r.kind, Kind::challenge);
    EXPECT_EQ(r.data, rfc_server_first);
    r = m->step(rfc_client_final);
    ASSERT_EQ(r.kind, Kind::success) << r.data;
    EXPECT_EQ(r.data, rfc_server_final);
    // Finished: a replay of the final message fails.
    EXPECT_EQ(m->step(rfc_client_final).kind, Kind::failure);
}

TEST(Scram, Rfc7677ExampleWithoutInitialResponse)
{
    auto m = make_mechanism("SCRAM-SHA-256", fixed());
    StepResult r = m->start(std::nullopt);
    ASSERT_EQ(r.kind, Kind::challenge);
    EXPECT_EQ(r.data, "");
    ASSERT_EQ(m->step(rfc_client_first).kind, Kind::need_credentials);
    ASSERT_EQ(m->credentials({true, rfc_verifier()}).data, rfc_server_first);
    r = m->step(rfc_client_final);
    ASSERT_EQ(r.kind, Kind::success);
    EXPECT_EQ(r.data, rfc_server_final);
}

TEST(Scram, WrongPasswordFails)
{
    auto m = make_mechanism("SCRAM-SHA-256", fixed());
    EXPECT_EQ(run(*m, "n,,", "n=user,r=abc", {true, rfc_verifier()}, "pencil2").kind,
              Kind::failure);
}

TEST(Scram, TamperedProofFails)
{
    auto m = make_mechanism("SCRAM-SHA-256", fixed());
    m->start(rfc_client_first);
    m->credentials({true, rfc_verifier()});
    std::string bad = rfc_client_final;
    bad[bad.size() - 3] = bad[bad.size() - 3] == 'A' ? 'B' : 'A';
    EXPECT_EQ(m->step(bad).kind, Kind::failure);
}

TEST(Scram, PlainSecretComputesTheVerifier)
{
    auto m = make_mechanism("SCRAM-SHA-256", fixed());
    StepResult r = run(*m, "n,,", "n=alice,r=xyz123", {true, "{PLAIN}s3cret pw"}, "s3cret pw");
    EXPECT_EQ(r.kind, Kind::success) << r.data;
    auto wrong = make_mechanism("SCRAM-SHA-256", fixed());
    EXPECT_EQ(run(*wrong, "n,,", "n=alice,r=xyz123", {true, "{PLAIN}s3cret pw"}, "s3cret").kind,
              Kind::failure);
}

TEST(Scram, UnknownUserLooksLikeAKnownOneUntilTheProof)
{
    // The same salt for the same user each time, the default iteration count,
    // and a failing proof even for a "password" the client may guess.
    std::string salts[2];
    for (auto &salt : salts) {
        auto m = make_mechanism("SCRAM-SHA-256", fixed());
        ASSERT_EQ(m->start("n,,n=ghost,r=abc").kind, Kind::need_credentials);
        StepResult r = m->credentials({false, ""});
        ASSERT_EQ(r.kind, Kind::challenge);
        salt = attr(r.data, 's');
        EXPECT_EQ(attr(r.data, 'i'), "4096");
        r = m->step(client_final("", "n=ghost,r=abc", r.data, "n,,"));
        EXPECT_EQ(r.kind, Kind::failure);
        EXPECT_EQ(r.data, "unknown user");
    }
    EXPECT_EQ(salts[0], salts[1]);
    EXPECT_EQ(digest::base64_decode(salts[0])->size(), 16u);
    // A known {PLAIN} user's salt is made the same way (indistinguishable).
    auto m = make_mechanism("SCRAM-SHA-256", fixed());
    m->start("n,,n=ghost,r=abc");
    EXPECT_EQ(attr(m->credentials({true, "{PLAIN}pw"}).data, 's'), salts[0]);
}

TEST(Scram, AuthzidEqualToUserAcceptedOtherRefused)
{
    auto ok = make_mechanism("SCRAM-SHA-256", fixed());
    EXPECT_EQ(run(*ok, "n,a=user,", "n=user,r=abc", {true, rfc_verifier()}, "pencil").kind,
              Kind::success);
    auto bad = make_mechanism("SCRAM-SHA-256", fixed());
    EXPECT_EQ(bad->start("n,a=admin,n=user,r=abc").kind, Kind::failure);
}

TEST(Scram, EscapedUserNames)
{
    EXPECT_EQ(scram_unescape("a=2Cb=3Dc"), "a,b=c");
    EXPECT_FALSE(scram_unescape(""));
    EXPECT_FALSE(scram_unescape("a=2"));
    EXPECT_FALSE(scram_unescape("a=2c"));
    EXPECT_FALSE(scram_unescape("a=41"));
    EXPECT_FALSE(scram_unescape(std::string_view("a\0b", 3)));
    auto m = make_mechanism("SCRAM-SHA-256", fixed());
    StepResult r = m->start("n,,n=us=2Cer,r=abc");
    ASSERT_EQ(r.kind, Kind::need_credentials);
    EXPECT_EQ(r.data, "us,er");
}

TEST(Scram, MalformedClientFirstFails)
{
    for (std::string_view bad : {
             "", "n", "n,", "x,,n=user,r=abc", "n,n=user,r=abc", "n,b=user,n=user,r=abc",
             "n,,m=ext,n=user,r=abc", "n,,n=,r=abc", "n,,n=us=2Xer,r=abc", "n,,r=abc,n=user",
             "n,,n=user", "n,,n=user,r=", "n,,n=user,r=a b", "n,,n=user,r=abc,1bad",
             "n,,n=user,r=abc,", "N,,n=user,r=abc", "p=,,n=user,r=abc",
             "p=tls-unique,,n=user,r=abc", // p= under plain SCRAM-SHA-256
         }) {
        auto m = make_mechanism("SCRAM-SHA-256", fixed());
        EXPECT_EQ(m->start(std::string(bad)).kind, Kind::failure) << bad;
    }
    // Optional extensions after the nonce are ignored.
    auto m = make_mechanism("SCRAM-SHA-256", fixed());
    EXPECT_EQ(m->start(std::string("n,,n=user,r=abc,x=whatever")).kind, Kind::need_credentials);
}

TEST(Scram, MalformedClientFinalFails)
{
    const std::string nonce = rfc_client_nonce + rfc_server_nonce;
    const std::string proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    for (const std::string &bad : {
             std::string(""),
             "c=biws,r=" + nonce,                                                    // no proof
             "c=biws,r=" + nonce + ",p=dHzbZapWIk4jUhN+Ute9ytag",                    // short proof
             "c=biws,r=" + nonce + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ", // bad b64
             "c=biws,r=" + nonce + ",p=!!!",
             "c=bi ws,r=" + nonce + "," + proof,           // bad base64 in c=
             "c=eSws,r=" + nonce + "," + proof,            // "y,," instead of "n,,"
             "c=biws,r=" + rfc_client_nonce + "," + proof, // nonce without server part
             "c=biws,r=" + nonce + "X," + proof,           // nonce mismatch
             "r=" + nonce + ",c=biws," + proof,            // order
             "c=biws," + proof,
             "c=biws,r=" + nonce + ",1=x," + proof,
         }) {
        auto m = make_mechanism("SCRAM-SHA-256", fixed());
        ASSERT_EQ(m->start(rfc_client_first).kind, Kind::need_credentials);
        ASSERT_EQ(m->credentials({true, rfc_verifier()}).kind, Kind::challenge);
        EXPECT_EQ(m->step(bad).kind, Kind::failure) << bad;
    }
}

TEST(Scram, IterationBounds)
{
    for (uint32_t i : {1u, 4095u}) {
        auto m = make_mechanism("SCRAM-SHA-256", fixed());
        m->start(rfc_client_first);
        EXPECT_EQ(m->credentials({true, rfc_verifier(i)}).kind, Kind::failure) << i;
    }
    {
        auto m = make_mechanism("SCRAM-SHA-256", fixed());
        m->start(rfc_client_first);
        std::string v = rfc_verifier();
        v.replace(v.find("4096"), 4, "10000001"); // above the bound (keys then wrong anyway)
        EXPECT_EQ(m->credentials({true, v}).kind, Kind::failure);
    }
    auto m = make_mechanism("SCRAM-SHA-256", fixed());
    EXPECT_EQ(run(*m, "n,,", "n=user,r=abc", {true, rfc_verifier(5000)}, "pencil").kind,
              Kind::success);
}

TEST(Scram, MalformedVerifierFails)
{
    for (std::string v : {"{SCRAM-SHA-256}", "{SCRAM-SHA-256}4096:abc", "{SCRAM-SHA-256}x:y:z:w"}) {
        auto m = make_mechanism("SCRAM-SHA-256", fixed());
        m->start(rfc_client_first);
        EXPECT_EQ(m->credentials({true, v}).kind, Kind::failure) << v;
    }
}

TEST(Scram, ChannelBindingPlus)
{
    const ChannelBinding cb{"tls-exporter", std::string("\x01\x02\x03\x00\xff binding", 13)};
    auto m = make_mechanism("SCRAM-SHA-256-PLUS", fixed(cb, true));
    EXPECT_EQ(m->name(), "SCRAM-SHA-256-PLUS");
    EXPECT_EQ(
        run(*m, "p=tls-exporter,,", "n=user,r=abc", {true, rfc_verifier()}, "pencil", cb.data).kind,
        Kind::success);

    // Wrong binding data.
    auto wrong = make_mechanism("SCRAM-SHA-256-PLUS", fixed(cb, true));
    EXPECT_EQ(run(*wrong, "p=tls-exporter,,", "n=user,r=abc", {true, rfc_verifier()}, "pencil",
                  "other data")
                  .kind,
              Kind::failure);
    // Binding data left out of c=.
    auto none = make_mechanism("SCRAM-SHA-256-PLUS", fixed(cb, true));
    EXPECT_EQ(run(*none, "p=tls-exporter,,", "n=user,r=abc", {true, rfc_verifier()}, "pencil").kind,
              Kind::failure);
    // Another binding type than the connection has.
    auto type = make_mechanism("SCRAM-SHA-256-PLUS", fixed(cb, true));
    EXPECT_EQ(type->start("p=tls-unique,,n=user,r=abc").kind, Kind::failure);
    // -PLUS without binding flag.
    for (const char *flag : {"n,,", "y,,"}) {
        auto m2 = make_mechanism("SCRAM-SHA-256-PLUS", fixed(cb, true));
        EXPECT_EQ(m2->start(std::string(flag) + "n=user,r=abc").kind, Kind::failure) << flag;
    }
    // -PLUS on a connection without TLS.
    auto notls = make_mechanism("SCRAM-SHA-256-PLUS", fixed());
    EXPECT_EQ(notls->start("p=tls-exporter,,n=user,r=abc").kind, Kind::failure);
}

TEST(Scram, GS2FlagYRules)
{
    // "y": the client supports binding but thinks the server does not. Fine
    // when -PLUS was not advertised, a downgrade when it was.
    auto ok = make_mechanism("SCRAM-SHA-256", fixed());
    EXPECT_EQ(run(*ok, "y,,", "n=user,r=abc", {true, rfc_verifier()}, "pencil").kind,
              Kind::success);
    const ChannelBinding cb{"tls-unique", "0123456789ab"};
    auto downgrade = make_mechanism("SCRAM-SHA-256", fixed(cb, true));
    EXPECT_EQ(downgrade->start("y,,n=user,r=abc").kind, Kind::failure);
    // "n" under plain SCRAM-SHA-256 is fine even when -PLUS is offered.
    auto n = make_mechanism("SCRAM-SHA-256", fixed(cb, true));
    EXPECT_EQ(run(*n, "n,,", "n=user,r=abc", {true, rfc_verifier()}, "pencil").kind, Kind::success);
}

TEST(Scram, OutOfOrderCallsFail)
{
    auto m = make_mechanism("SCRAM-SHA-256", fixed());
    EXPECT_EQ(m->credentials({true, rfc_verifier()}).kind, Kind::failure);
    auto m2 = make_mechanism("SCRAM-SHA-256", fixed());
    m2->start(rfc_client_first);
    EXPECT_EQ(m2->step(rfc_client_final).kind, Kind::failure); // before credentials
}

TEST(Scram, DefaultNoncesDiffer)
{
    Options o;
    auto a = make_mechanism("SCRAM-SHA-256", o);
    auto b = make_mechanism("SCRAM-SHA-256", o);
    a->start(rfc_client_first);
    b->start(rfc_client_first);
    const std::string ra = attr(a->credentials({true, rfc_verifier()}).data, 'r');
    const std::string rb = attr(b->credentials({true, rfc_verifier()}).data, 'r');
    EXPECT_NE(ra, rb);
    EXPECT_EQ(ra.rfind(rfc_client_nonce, 0), 0u);
    EXPECT_GE(ra.size(), rfc_client_nonce.size() + 24);
}

TEST(Scram, UnknownMechanism)
{
    EXPECT_EQ(make_mechanism("DIGEST-MD5", {}), nullptr);
    EXPECT_TRUE(credential_schemes("DIGEST-MD5").empty());
    EXPECT_EQ(credential_schemes("SCRAM-SHA-256-PLUS"),
              (std::vector<std::string>{"SCRAM-SHA-256", "PLAIN"}));
}
