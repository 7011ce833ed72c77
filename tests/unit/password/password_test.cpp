// password_test.cpp - password_verify() against known-answer vectors made
// outside this code (OpenSSL CLI, Python hashlib/crypt, the argon2 CLI, RFC
// 7677), wrong passwords, malformed stored strings, and password_hash().
//
// How the literals were made:
//   openssl passwd -6 -salt saltsaltsalt 'correct horse'     (also -5, -1 -salt saltsalt)
//   python3: crypt.crypt('correct horse', '$y$j9T$F5Jx5fExrKuPp53xLKQ..1'), and '$2b$05$abc..'
//   python3: hashlib.md5/sha1(b'correct horse') as hex and base64
//   python3: a separate OLD_PASSWORD() implementation; '*'+SHA1(SHA1(pw)) in upper-case hex
//   echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -e   (the PHC reference vector)
#include "password/password.hpp"
#include "password/password_digest.hpp"
#include "password/password_scram.hpp"

#include <atomic>
#include <gtest/gtest.h>
#include <modpop3d/status.h>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace modpop3d::password;

namespace
{

constexpr const char *pw = "correct horse";

void expect_scheme(const std::string &stored, const std::string &good)
{
    EXPECT_EQ(password_verify(stored, good), MODPOP3D_OK) << stored;
    EXPECT_EQ(password_verify(stored, good + "x"), MODPOP3D_E_BADPASS) << stored;
    EXPECT_EQ(password_verify(stored, ""), MODPOP3D_E_BADPASS) << stored;
    EXPECT_EQ(password_verify(stored, "Correct horse"), MODPOP3D_E_BADPASS) << stored;
}

TEST(PasswordVerify, CryptSchemes)
{
    const std::string sha512 = "$6$saltsaltsalt$Cy2drr8kDRji6smvDcT28wkqtq0R0VzVL5CkrjPQCITc5d/"
                               "31j94knt9rGTcVSyjLXfjsiIsBh5ee8qR/3QDx1";
    expect_scheme(sha512, pw);
    expect_scheme("{CRYPT}" + sha512, pw);
    expect_scheme("{crypt}" + sha512, pw); // tpop3d spells schemes in lower case
    expect_scheme("{SHA512-CRYPT}" + sha512, pw);
    expect_scheme("$5$saltsaltsalt$7axwV9kT3PvvGXgJl1FcfUCHLdLFhWk/dIFhzsbucLB", pw);
    expect_scheme("$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79", pw);
    expect_scheme("$2b$05$abcdefghijklmnopqrstuuHNbAKRhpaujgo33bRWs.NLUTJO3lOy2", pw);
    // The crypt_blowfish test vector, as $2a$ and $2y$ (same result for ASCII).
    expect_scheme("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U");
    expect_scheme("$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U");
    expect_scheme("$1$saltsalt$NuzA7WTAelpl95xgBGWN60", pw);
    expect_scheme("{CRYPT_MD5}$1$saltsalt$NuzA7WTAelpl95xgBGWN60", pw);
}

TEST(PasswordVerify, CryptRefusesNulInPassword)
{
    // crypt(3) would see only "correct horse"; the real password differs.
    const std::string md5c = "$1$saltsalt$NuzA7WTAelpl95xgBGWN60";
    EXPECT_EQ(password_verify(md5c, std::string("correct horse\0tail", 18)), MODPOP3D_E_BADPASS);
}

TEST(PasswordVerify, Plain)
{
    expect_scheme("{PLAIN}correct horse", pw);
    expect_scheme("{plaintext}correct horse", pw);
    expect_scheme("{CLEARTEXT}correct horse", pw);
    // Any bytes, NUL included, compare exactly.
    const std::string odd("a\0b:c", 5);
    EXPECT_EQ(password_verify("{PLAIN}" + odd, odd), MODPOP3D_OK);
    EXPECT_EQ(password_verify("{PLAIN}" + odd, "a"), MODPOP3D_E_BADPASS);
}

TEST(PasswordVerify, Md5TpopStyle)
{
    expect_scheme("{MD5}3cb4e732631f47e6eb961f34554b7cde", pw);
    expect_scheme("{md5}3CB4E732631F47E6EB961F34554B7CDE", pw); // hex in either case
    expect_scheme("{MD5}PLTnMmMfR+brlh80VUt83g==", pw);         // 24 base64 characters
    expect_scheme("{PLAIN-MD5}3cb4e732631f47e6eb961f34554b7cde", pw);
    expect_scheme("{MD5}$1$saltsalt$NuzA7WTAelpl95xgBGWN60", pw); // Dovecot's {MD5}: md5-crypt
}

TEST(PasswordVerify, Sha1)
{
    expect_scheme("{SHA1}2f9e53523b62abc141a2b4d6019d23cba835dbd0", pw);
    expect_scheme("{sha1}2F9E53523B62ABC141A2B4D6019D23CBA835DBD0", pw);
    expect_scheme("{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=", pw);
}

TEST(PasswordVerify, Mysql)
{
    expect_scheme("{MYSQL}*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19", "password");
    expect_scheme("{mysql}*2470c0c06dee42fd1618bb99005adca2ec9d1e19", "password");
    expect_scheme("{MYSQL}5d2e19393cc5ef67", "password"); // OLD_PASSWORD('password')
    expect_scheme("{MYSQL}5d2e1939", "password");         // tpop3d: the first 8 digits
    // The old hash skips blanks, so both spellings match the same hash.
    EXPECT_EQ(password_verify("{MYSQL}5fd896f92cfc6fca", "correct horse"), MODPOP3D_OK);
    EXPECT_EQ(password_verify("{MYSQL}5fd896f92cfc6fca", "correcthorse"), MODPOP3D_OK);
    EXPECT_EQ(password_verify("{MYSQL}5fd896f92cfc6fca", "correct horsf"), MODPOP3D_E_BADPASS);
}

TEST(PasswordVerify, Argon2)
{
    const std::string id =
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    expect_scheme("{ARGON2ID}" + id, "password");
    EXPECT_EQ(password_verify(id, "password"), MODPOP3D_OK); // bare encoded string
    EXPECT_EQ(password_verify(id, "passwore"), MODPOP3D_E_BADPASS);
    const std::string i =
        "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA";
    EXPECT_EQ(password_verify("{ARGON2I}" + i, "password"), MODPOP3D_OK);
    EXPECT_EQ(password_verify("{ARGON2I}" + i, "Password"), MODPOP3D_E_BADPASS);
    expect_scheme("{ARGON2ID}$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$otnZMF7gn3T/"
                  "mBjwQNsF2/BkISQse8/VHNX8NziXT1c",
                  pw);
}

// RFC 7677 section 3: user "user", password "pencil".
constexpr const char *rfc_salt = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr const char *rfc_client_first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr const char *rfc_server_first =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr const char *rfc_client_final_no_proof =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr const char *rfc_proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr const char *rfc_server_signature = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

TEST(Scram, Rfc7677VectorAgreesWithTheExampleExchange)
{
    auto salt = digest::base64_decode(rfc_salt);
    ASSERT_TRUE(salt.has_value());
    const ScramVerifier v = scram_compute("pencil", digest::as_text(*salt), 4096);

    const std::string auth_message = std::string(rfc_client_first_bare) + "," + rfc_server_first +
                                     "," + rfc_client_final_no_proof;
    // The server checks a proof like this: ClientKey = proof XOR
    // HMAC(StoredKey, AuthMessage), then H(ClientKey) must be StoredKey.
    auto proof = digest::base64_decode(rfc_proof);
    ASSERT_TRUE(proof.has_value());
    ASSERT_EQ(proof->size(), 32u);
    const auto client_sig = digest::hmac_sha256(digest::as_text(v.stored_key), auth_message);
    std::string client_key(32, '\0');
    for (std::size_t k = 0; k < 32; ++k)
        client_key[k] = static_cast<char>((*proof)[k] ^ client_sig[k]);
    EXPECT_EQ(digest::sha256(client_key), v.stored_key);
    // And the server's signature in the RFC's server-final message.
    EXPECT_EQ(digest::base64_encode(digest::as_text(
                  digest::hmac_sha256(digest::as_text(v.server_key), auth_message))),
              rfc_server_signature);
    // Values derived once from the above (Python hashlib, cross-checked here).
    EXPECT_EQ(digest::base64_encode(digest::as_text(v.stored_key)),
              "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=");
    EXPECT_EQ(digest::base64_encode(digest::as_text(v.server_key)),
              "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
}

TEST(Scram, StoredVerifierChecksPlaintext)
{
    const std::string stored = "{SCRAM-SHA-256}4096:W22ZaJ0SNY7soEsUEjb6gQ==:"
                               "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
                               "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
    expect_scheme(stored, "pencil");
    auto parsed = parse_scram_verifier(stored.substr(15));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->iterations, 4096u);
    EXPECT_EQ(format_scram_verifier(*parsed), stored);
    // A verifier whose ServerKey does not belong to the password is refused.
    const std::string mixed = "{SCRAM-SHA-256}4096:W22ZaJ0SNY7soEsUEjb6gQ==:"
                              "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
                              "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=";
    EXPECT_EQ(password_verify(mixed, "pencil"), MODPOP3D_E_BADPASS);
}

TEST(PasswordVerify, MalformedStoredStringsAreNotSupported)
{
    const std::string long_m = "{ARGON2ID}$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$"
                               "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    const std::string cases[] = {
        "",
        "{",
        "{PLAIN",
        "{}x",
        "{NOSUCH}abc",
        "{PLAIN}",
        "{MD5}3cb4e732631f47e6eb961f34554b7cd",  // 31 digits
        "{MD5}3cb4e732631f47e6eb961f34554b7cdz", // not hex
        "{MD5}PLTnMmMfR+brlh80VUt83g=",          // 23 characters
        "{MD5}PLTnMmMfR+brlh80VUt8!g==",         // not base64
        "{SHA1}2f9e53523b62abc141a2b4d6019d23cba835dbd",
        "{SHA}L55TUjtiq8FBorTWAZ0jy6g129A",
        "{MYSQL}*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1",
        "{MYSQL}*2470C0C06DEE42FD1618BB99005ADCA2EC9D1EZZ",
        "{MYSQL}5d2e19393cc5ef6",
        "{MYSQL}5d2e19393cc5ef6g",
        "{ARGON2ID}",
        "{ARGON2ID}$argon2id$",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=2$c29tZXNhbHQ$"
        "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "{ARGON2ID}$argon2id$v=19$m=x,t=2,p=1$c29tZXNhbHQ$"
        "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        long_m, // 4 GiB of memory: refused before libargon2 allocates it
        "{ARGON2ID}$argon2x$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$"
        "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2",
        "{SCRAM-SHA-256}",
        "{SCRAM-SHA-256}4096:W22ZaJ0SNY7soEsUEjb6gQ==:abc",
        "{SCRAM-SHA-256}4096:W22ZaJ0SNY7soEsUEjb6gQ==:YWJj:YWJj",
        "{SCRAM-SHA-256}1:W22ZaJ0SNY7soEsUEjb6gQ==:WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "{SCRAM-SHA-256}99999999999:W22ZaJ0SNY7soEsUEjb6gQ==:"
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "{SCRAM-SHA-256}4096::WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "{SCRAM-SHA-256}4096:W22ZaJ0SNY7soEsUEjb6gQ==:WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=:extra",
        "$6$",
        "$y$garbage",
        "{CRYPT}",
        std::string("$1$saltsalt$NuzA7WTA\0lpl95xgBGWN60", 34),
    };
    for (const auto &c : cases) {
        const int32_t r = password_verify(c, pw);
        EXPECT_TRUE(r == MODPOP3D_E_NOTSUP || r == MODPOP3D_E_BADPASS) << "'" << c << "' -> " << r;
        EXPECT_NE(r, MODPOP3D_OK) << c;
    }
    // The ones that must be NOTSUP, not a wrong password: the caller logs them.
    EXPECT_EQ(password_verify("{NOSUCH}abc", pw), MODPOP3D_E_NOTSUP);
    EXPECT_EQ(password_verify("{MD5}xyz", pw), MODPOP3D_E_NOTSUP);
    EXPECT_EQ(password_verify(long_m, "password"), MODPOP3D_E_NOTSUP);
    EXPECT_EQ(password_verify("", pw), MODPOP3D_E_NOTSUP);
}

TEST(PasswordVerify, LockedAccountsAreWrongPasswords)
{
    // shadow(5): "!" locks a hash, "*" means no password.
    EXPECT_EQ(password_verify("!$1$saltsalt$NuzA7WTAelpl95xgBGWN60", pw), MODPOP3D_E_BADPASS);
    EXPECT_EQ(password_verify("*", pw), MODPOP3D_E_BADPASS);
    EXPECT_EQ(password_verify("!", ""), MODPOP3D_E_BADPASS);
}

TEST(PasswordVerify, OverlongPasswordIsRefused)
{
    const std::string big(password_max_length + 1, 'a');
    EXPECT_EQ(password_verify("{PLAIN}" + big, big), MODPOP3D_E_BADPASS);
    const std::string max(password_max_length, 'a');
    EXPECT_EQ(password_verify("{PLAIN}" + max, max), MODPOP3D_OK);
}

TEST(PasswordDummy, AlwaysBadpassAlsoFromManyThreads)
{
    EXPECT_EQ(password_dummy_verify(pw), MODPOP3D_E_BADPASS);
    EXPECT_EQ(password_dummy_verify(""), MODPOP3D_E_BADPASS);
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&] {
            if (password_dummy_verify("guess") == MODPOP3D_E_BADPASS)
                ++bad;
        });
    for (auto &t : threads)
        t.join();
    EXPECT_EQ(bad.load(), 4);
    EXPECT_TRUE(password_prepare("sha512-crypt"));
    EXPECT_EQ(password_dummy_verify(pw), MODPOP3D_E_BADPASS);
    EXPECT_FALSE(password_prepare("nosuch"));
    EXPECT_EQ(password_dummy_verify(pw), MODPOP3D_E_BADPASS);
    EXPECT_TRUE(password_prepare("yescrypt"));
}

TEST(PasswordHash, EverySchemeRoundTrips)
{
    const std::pair<std::string, std::string> prefixes[] = {
        {"yescrypt", "$y$"},
        {"sha512-crypt", "$6$"},
        {"sha256-crypt", "$5$"},
        {"bcrypt", "$2b$12$"},
        {"md5-crypt", "$1$"},
        {"argon2id", "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$"},
        {"scram-sha-256", "{SCRAM-SHA-256}4096:"},
        {"plain", "{PLAIN}"},
    };
    ASSERT_EQ(password_hash_schemes().size(), std::size(prefixes));
    for (const auto &[scheme, prefix] : prefixes) {
        const std::string h = password_hash(scheme, "s3cret: pass");
        EXPECT_TRUE(h.starts_with(prefix)) << scheme << ": " << h;
        EXPECT_EQ(password_verify(h, "s3cret: pass"), MODPOP3D_OK) << scheme << ": " << h;
        EXPECT_EQ(password_verify(h, "s3cret: pasS"), MODPOP3D_E_BADPASS) << scheme;
        if (scheme != "plain") { // salted: two hashes of one password differ
            EXPECT_NE(h, password_hash(scheme, "s3cret: pass")) << scheme;
        }
    }
    EXPECT_TRUE(password_hash("SHA512-CRYPT", "x").starts_with("$6$"));
}

TEST(PasswordHash, RefusesBadInput)
{
    EXPECT_THROW(password_hash("nosuch", "x"), std::invalid_argument);
    EXPECT_THROW(password_hash("yescrypt", ""), std::invalid_argument);
    EXPECT_THROW(password_hash("yescrypt", std::string("a\0b", 3)), std::invalid_argument);
    EXPECT_THROW(password_hash("plain", "a\nb"), std::invalid_argument);
    EXPECT_THROW(password_hash("plain", std::string(password_max_length + 1, 'a')),
                 std::invalid_argument);
    EXPECT_THROW(password_scram_verifier("x", 100), std::invalid_argument);
    // Argon2 and SCRAM take any bytes.
    const std::string nul("a\0b", 3);
    EXPECT_EQ(password_verify(password_hash("argon2id", nul), nul), MODPOP3D_OK);
    EXPECT_EQ(password_verify(password_hash("argon2id", nul), "a"), MODPOP3D_E_BADPASS);
    EXPECT_EQ(password_verify(password_hash("scram-sha-256", nul), nul), MODPOP3D_OK);
}

} // namespace

// A wrong password costs one dummy verification whatever the scheme, so a
// known user with a cheap secret ({PLAIN}, SCRAM) answers no faster than an
// unknown user (counted, not timed: timings belong in bench/).
TEST(PasswordVerify, WrongPasswordCostsWhatAnUnknownUserCosts)
{
    ASSERT_TRUE(password_prepare("yescrypt"));
    const std::string scram = password_hash("scram-sha-256", "right");
    const std::string yescrypt = password_hash("yescrypt", "right");
    struct Case {
        std::string stored;
        const char *plain;
        int32_t expect;
        uint64_t dummies;
    } cases[] = {
        {"{PLAIN}right", "wrong", MODPOP3D_E_BADPASS, 1}, {"{PLAIN}right", "right", MODPOP3D_OK, 0},
        {scram, "wrong", MODPOP3D_E_BADPASS, 1},          {scram, "right", MODPOP3D_OK, 0},
        {yescrypt, "wrong", MODPOP3D_E_BADPASS, 0}, // the dummy's own scheme: cost enough
        {"!locked", "any", MODPOP3D_E_BADPASS, 1},  // once, not twice
        {"{NOSUCH}x", "any", MODPOP3D_E_NOTSUP, 0},
    };
    for (const Case &c : cases) {
        const uint64_t before = password_dummy_runs();
        EXPECT_EQ(password_verify(c.stored, c.plain), c.expect) << c.stored;
        EXPECT_EQ(password_dummy_runs() - before, c.dummies) << c.stored << " " << c.plain;
    }
}
