// cram_md5.cpp - CRAM-MD5 (RFC 2195); see cram_md5.hpp.
#include "sasl/cram_md5.hpp"

#include "password/password_digest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdexcept>

namespace modpop3d::sasl
{

namespace
{

constexpr std::string_view plain_prefix = "{PLAIN}";

class CramMd5 final : public Mechanism
{
  public:
    explicit CramMd5(Options o) : opt_(std::move(o)) {}
    ~CramMd5() override { OPENSSL_cleanse(challenge_.data(), challenge_.size()); }

    std::string_view name() const noexcept override { return cram_md5; }

    StepResult start(const std::optional<std::string> &initial) override
    {
        if (state_ != State::start)
            return finish_fail("out of order");
        if (initial && !initial->empty())
            return finish_fail("CRAM-MD5 takes no initial response");
        const std::string random = opt_.nonce ? opt_.nonce() : default_nonce();
        challenge_ = "<" + random;
        if (!opt_.nonce) // the RFC form: random.time; tests give the whole part
            challenge_ += "." + std::to_string(opt_.time);
        challenge_ += "@" + opt_.hostname + ">";
        state_ = State::response;
        return StepResult::challenge(challenge_);
    }

    StepResult step(std::string_view response) override
    {
        if (state_ != State::response)
            return finish_fail("out of order");
        // "user SP digest": the name may itself hold spaces, the digest not.
        const auto sp = response.rfind(' ');
        if (sp == std::string_view::npos || sp == 0)
            return finish_fail("malformed response");
        std::string_view digest = response.substr(sp + 1);
        if (digest.size() != 32)
            return finish_fail("malformed digest");
        for (char &ch : digest_.assign(digest)) {
            if (ch >= 'A' && ch <= 'F')
                ch = static_cast<char>(ch - 'A' + 'a');
            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
                return finish_fail("malformed digest");
        }
        user_.assign(response.substr(0, sp));
        state_ = State::credentials;
        return StepResult::need_credentials(user_);
    }

    StepResult credentials(const Credentials &creds) override
    {
        if (state_ != State::credentials)
            return finish_fail("out of order");
        if (!creds.found)
            return finish_fail("unknown user");
        if (creds.secret.compare(0, plain_prefix.size(), plain_prefix) != 0)
            return finish_fail("no plaintext secret for CRAM-MD5");
        std::string expect = cram_md5_response(
            std::string_view(creds.secret).substr(plain_prefix.size()), challenge_);
        const bool ok = password::digest::equal(expect, digest_);
        OPENSSL_cleanse(expect.data(), expect.size());
        state_ = State::done;
        return ok ? StepResult::success("") : StepResult::failure("wrong digest");
    }

  private:
    enum class State : uint8_t { start, response, credentials, done };

    StepResult finish_fail(std::string why)
    {
        state_ = State::done;
        return StepResult::failure(std::move(why));
    }

    Options opt_;
    State state_ = State::start;
    std::string challenge_;
    std::string digest_;
};

} // namespace

std::string cram_md5_response(std::string_view secret, std::string_view challenge)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (HMAC(EVP_md5(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char *>(challenge.data()), challenge.size(), md,
             &len) == nullptr)
        throw std::runtime_error("HMAC-MD5 failed");
    std::string hex = password::digest::hex_encode(password::digest::as_text(md, len));
    OPENSSL_cleanse(md, sizeof md);
    return hex;
}

std::unique_ptr<Mechanism> make_cram_md5(Options options)
{
    return std::make_unique<CramMd5>(std::move(options));
}

} // namespace modpop3d::sasl
