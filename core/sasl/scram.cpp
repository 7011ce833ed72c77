// scram.cpp - SCRAM-SHA-256(-PLUS) server; see scram.hpp.
#include "sasl/scram.hpp"

#include "password/password_digest.hpp"
#include "password/password_scram.hpp"

#include <openssl/crypto.h>

namespace modpop3d::sasl
{

namespace digest = password::digest;

namespace
{

constexpr std::string_view scram_prefix = "{SCRAM-SHA-256}";
constexpr std::string_view plain_prefix = "{PLAIN}";

// split - the comma-separated attributes of a SCRAM message.
std::vector<std::string_view> split(std::string_view s)
{
    std::vector<std::string_view> out;
    for (;;) {
        auto comma = s.find(',');
        out.push_back(s.substr(0, comma));
        if (comma == std::string_view::npos)
            return out;
        s.remove_prefix(comma + 1);
    }
}

// attribute - "x=value" with the expected letter; the value, else nullopt.
std::optional<std::string_view> attribute(std::string_view a, char letter)
{
    if (a.size() < 2 || a[0] != letter || a[1] != '=')
        return std::nullopt;
    return a.substr(2);
}

// is_extension - "x=value" for any letter (RFC 5802 attr-val).
bool is_extension(std::string_view a)
{
    return a.size() >= 2 && ((a[0] >= 'a' && a[0] <= 'z') || (a[0] >= 'A' && a[0] <= 'Z')) &&
           a[1] == '=';
}

// valid_nonce - RFC 5802 "printable": 0x21-0x7E except ','.
bool valid_nonce(std::string_view n)
{
    if (n.empty())
        return false;
    for (char ch : n) {
        const auto u = static_cast<unsigned char>(ch);
        if (u < 0x21 || u > 0x7e || ch == ',')
            return false;
    }
    return true;
}

bool valid_cb_name(std::string_view n)
{
    if (n.empty())
        return false;
    for (char ch : n)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-'))
            return false;
    return true;
}

class Scram final : public Mechanism
{
  public:
    Scram(Options o, bool plus) : opt_(std::move(o)), plus_(plus)
    {
        if (opt_.mock_key.empty()) {
            opt_.mock_key.resize(32);
            digest::random_bytes(opt_.mock_key.data(), opt_.mock_key.size());
        }
    }
    ~Scram() override
    {
        OPENSSL_cleanse(verifier_.stored_key.data(), verifier_.stored_key.size());
        OPENSSL_cleanse(verifier_.server_key.data(), verifier_.server_key.size());
        OPENSSL_cleanse(opt_.mock_key.data(), opt_.mock_key.size());
    }

    std::string_view name() const noexcept override
    {
        return plus_ ? scram_sha256_plus : scram_sha256;
    }

    StepResult start(const std::optional<std::string> &initial) override
    {
        if (state_ != State::start)
            return fail("out of order");
        if (!initial) { // ask for client-first with an empty challenge (an empty
                        // initial response is a malformed client-first)
            state_ = State::client_first;
            return StepResult::challenge("");
        }
        return client_first(*initial);
    }

    StepResult step(std::string_view response) override
    {
        switch (state_) {
        case State::client_first:
            return client_first(response);
        case State::client_final:
            return client_final(response);
        default:
            return fail("out of order");
        }
    }

    StepResult credentials(const Credentials &creds) override
    {
        if (state_ != State::credentials)
            return fail("out of order");
        std::string_view secret = creds.secret;
        if (creds.found && secret.substr(0, scram_prefix.size()) == scram_prefix) {
            auto v = password::parse_scram_verifier(secret.substr(scram_prefix.size()));
            if (!v) // bad field, base64 or iteration count outside the bounds
                return fail("malformed SCRAM-SHA-256 verifier");
            verifier_ = std::move(*v);
        } else if (creds.found && secret.substr(0, plain_prefix.size()) == plain_prefix) {
            verifier_ = password::scram_compute(secret.substr(plain_prefix.size()), mock_salt(),
                                                password::scram_default_iterations);
        } else {
            // Unknown user or no usable secret: a verifier no proof matches.
            unknown_ = true;
            verifier_.iterations = password::scram_default_iterations;
            verifier_.salt = mock_salt();
            digest::random_bytes(verifier_.stored_key.data(), verifier_.stored_key.size());
            digest::random_bytes(verifier_.server_key.data(), verifier_.server_key.size());
        }
        const std::string server_nonce = opt_.nonce ? opt_.nonce() : default_nonce();
        if (!valid_nonce(server_nonce))
            return fail("bad server nonce");
        nonce_ = client_nonce_ + server_nonce;
        server_first_ = "r=" + nonce_ + ",s=" + digest::base64_encode(verifier_.salt) +
                        ",i=" + std::to_string(verifier_.iterations);
        state_ = State::client_final;
        return StepResult::challenge(server_first_);
    }

  private:
    enum class State : uint8_t { start, client_first, credentials, client_final, done };

    StepResult fail(std::string why)
    {
        state_ = State::done;
        return StepResult::failure(std::move(why));
    }

    std::string mock_salt() const
    {
        const digest::Sha256 h = digest::hmac_sha256(opt_.mock_key, "scram-salt:" + user_);
        return std::string(digest::as_text(h).substr(0, 16));
    }

    StepResult client_first(std::string_view msg)
    {
        // gs2-header: cbind flag "," [authzid] ","
        std::string_view rest = msg;
        auto comma = rest.find(',');
        if (comma == std::string_view::npos)
            return fail("malformed gs2 header");
        const std::string_view flag = rest.substr(0, comma);
        rest.remove_prefix(comma + 1);
        char cb = 0;
        std::string_view cb_name;
        if (flag == "n" || flag == "y") {
            cb = flag[0];
        } else if (auto name = attribute(flag, 'p'); name && valid_cb_name(*name)) {
            cb = 'p';
            cb_name = *name;
        } else {
            return fail("malformed gs2 cbind flag");
        }
        comma = rest.find(',');
        if (comma == std::string_view::npos)
            return fail("malformed gs2 header");
        const std::string_view authz = rest.substr(0, comma);
        rest.remove_prefix(comma + 1);
        std::optional<std::string> authzid;
        if (!authz.empty()) {
            auto value = attribute(authz, 'a');
            if (!value || !(authzid = scram_unescape(*value)))
                return fail("malformed authzid");
        }
        gs2_header_.assign(msg.substr(0, msg.size() - rest.size()));

        // Channel binding rules, RFC 5802 section 6.
        if (plus_) {
            if (cb != 'p')
                return fail("SCRAM-SHA-256-PLUS without channel binding");
            if (!opt_.binding.available() || cb_name != opt_.binding.type)
                return fail("unsupported channel binding type");
        } else if (cb == 'p') {
            return fail("channel binding requested with SCRAM-SHA-256");
        } else if (cb == 'y' && opt_.plus_advertised) {
            return fail("client says the server lacks channel binding (downgrade)");
        }

        // client-first-message-bare: [m=...,] n=user,r=nonce[,ext...]
        bare_.assign(rest);
        const auto attrs = split(rest);
        if (!attrs.empty() && attribute(attrs[0], 'm'))
            return fail("mandatory extension not supported");
        if (attrs.size() < 2)
            return fail("malformed client-first message");
        auto n = attribute(attrs[0], 'n');
        std::optional<std::string> user;
        if (!n || !(user = scram_unescape(*n)))
            return fail("malformed user name");
        auto r = attribute(attrs[1], 'r');
        if (!r || !valid_nonce(*r))
            return fail("malformed client nonce");
        for (std::size_t i = 2; i < attrs.size(); ++i)
            if (!is_extension(attrs[i]))
                return fail("malformed extension");
        if (authzid && *authzid != *user)
            return fail("authorization identity differs from the user");
        user_ = std::move(*user);
        client_nonce_.assign(*r);
        state_ = State::credentials;
        return StepResult::need_credentials(user_);
    }

    StepResult client_final(std::string_view msg)
    {
        const auto p = msg.rfind(",p=");
        if (p == std::string_view::npos)
            return fail("client-final message without proof");
        const std::string_view without_proof = msg.substr(0, p);
        const auto proof = digest::base64_decode(msg.substr(p + 3));
        if (!proof || proof->size() != verifier_.stored_key.size())
            return fail("malformed proof");
        const auto attrs = split(without_proof);
        if (attrs.size() < 2)
            return fail("malformed client-final message");
        auto c = attribute(attrs[0], 'c');
        std::optional<digest::Bytes> cbind;
        if (!c || !(cbind = digest::base64_decode(*c)))
            return fail("malformed channel binding attribute");
        std::string expect_cbind = gs2_header_;
        if (plus_)
            expect_cbind += opt_.binding.data;
        if (!digest::equal(digest::as_text(*cbind), expect_cbind))
            return fail("channel binding mismatch");
        auto r = attribute(attrs[1], 'r');
        if (!r || *r != nonce_)
            return fail("nonce mismatch");
        for (std::size_t i = 2; i < attrs.size(); ++i)
            if (!is_extension(attrs[i]))
                return fail("malformed extension");

        const std::string auth_message =
            bare_ + "," + server_first_ + "," + std::string(without_proof);
        const digest::Sha256 signature =
            digest::hmac_sha256(digest::as_text(verifier_.stored_key), auth_message);
        digest::Sha256 client_key;
        for (std::size_t i = 0; i < client_key.size(); ++i)
            client_key[i] = static_cast<unsigned char>((*proof)[i] ^ signature[i]);
        const digest::Sha256 stored = digest::sha256(digest::as_text(client_key));
        OPENSSL_cleanse(client_key.data(), client_key.size());
        const bool ok =
            digest::equal(digest::as_text(stored), digest::as_text(verifier_.stored_key));
        if (!ok || unknown_)
            return fail(unknown_ ? "unknown user" : "wrong proof");
        const digest::Sha256 server_sig =
            digest::hmac_sha256(digest::as_text(verifier_.server_key), auth_message);
        state_ = State::done;
        return StepResult::success("v=" + digest::base64_encode(digest::as_text(server_sig)));
    }

    Options opt_;
    bool plus_;
    State state_ = State::start;
    bool unknown_ = false;
    std::string gs2_header_;
    std::string bare_;
    std::string client_nonce_;
    std::string nonce_;
    std::string server_first_;
    password::ScramVerifier verifier_;
};

} // namespace

std::optional<std::string> scram_unescape(std::string_view s)
{
    if (s.empty())
        return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char ch = s[i];
        if (ch == ',' || ch == '\0')
            return std::nullopt;
        if (ch != '=') {
            out += ch;
            continue;
        }
        const std::string_view esc = s.substr(i + 1, 2);
        if (esc == "2C")
            out += ',';
        else if (esc == "3D")
            out += '=';
        else
            return std::nullopt;
        i += 2;
    }
    return out;
}

std::unique_ptr<Mechanism> make_scram_sha256(Options options, bool plus)
{
    return std::make_unique<Scram>(std::move(options), plus);
}

} // namespace modpop3d::sasl
