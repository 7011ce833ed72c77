// context.cpp - OpenSSL server contexts (see context.hpp).
#include "tls/context.hpp"

#include "util/ascii.hpp"
#include "util/words.hpp"

#include <algorithm>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

namespace modpop3d::tls
{

namespace
{

std::string openssl_reason()
{
    unsigned long e = ERR_get_error();
    std::string text;
    while (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        text = buf; // keep the last, the most specific for PEM failures
        e = ERR_get_error();
    }
    return text.empty() ? "unknown OpenSSL error" : text;
}

bool load_files(SSL_CTX *ctx, const CertificateFiles &f, std::string &why)
{
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, f.certificate.c_str()) != 1) {
        why = "cannot load certificate " + f.certificate + ": " + openssl_reason();
        return false;
    }
    if (!f.chain.empty()) {
        // Intermediates from a separate file, sent after the certificate.
        BIO *bio = BIO_new_file(f.chain.c_str(), "r");
        if (bio == nullptr) {
            why = "cannot read certificate chain " + f.chain + ": " + openssl_reason();
            return false;
        }
        int added = 0;
        while (X509 *x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
            if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
                X509_free(x);
                BIO_free(bio);
                why = "cannot use certificate chain " + f.chain + ": " + openssl_reason();
                return false;
            }
            ++added;
        }
        BIO_free(bio);
        ERR_clear_error(); // the end of the file reads as an error
        if (added == 0) {
            why = "certificate chain " + f.chain + " holds no PEM certificate";
            return false;
        }
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, f.key.c_str(), SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            why = "private key " + f.key + " does not match certificate " + f.certificate;
            return false;
        }
        why = "cannot load private key " + f.key + ": " + openssl_reason();
        return false;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        why = "private key " + f.key + " does not match certificate " + f.certificate;
        return false;
    }
    struct stat st {
    };
    if (stat(f.key.c_str(), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
        why = "private key " + f.key + " is readable or writable by other users: chmod o-rwx it";
        return false;
    }
    return true;
}

SSL_CTX *make_ctx(const ContextSettings &s, const CertificateFiles &files, std::string &why)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
        why = "cannot create a TLS context: " + openssl_reason();
        return nullptr;
    }
    int min = s.legacy ? TLS1_VERSION : s.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(ctx, min);
    // TLS 1.0/1.1 sign handshakes with SHA-1, which OpenSSL 3 allows only at
    // level 0: that is what the legacy opt-in costs.
    SSL_CTX_set_security_level(ctx, s.legacy ? 0 : 2);
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                 // Most POP3 clients leave without close_notify; POP3's
                 // own framing makes truncation harmless, so EOF is a close.
                 SSL_OP_IGNORE_UNEXPECTED_EOF | (s.session_tickets ? 0 : SSL_OP_NO_TICKET));
    // The write buffer may move between retries (the connection's output
    // string grows), and partial writes let the event loop keep going.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    // Whole records in one read(2) instead of a header and a body apiece
    // (what OpenSSL holds is seen by Stream::buffered()).
    SSL_CTX_set_read_ahead(ctx, 1);
    // TLS 1.3 sends two tickets by default; a POP3 client resumes one
    // connection at a time, and each ticket costs an encryption and a write.
    SSL_CTX_set_num_tickets(ctx, 1);
    static const unsigned char sid_ctx[] = "modpop3d";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, 20000);
    std::string ciphers = s.ciphers;
    if (s.legacy)
        ciphers += ":HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES"; // CBC suites old clients need
    if ((!ciphers.empty() && SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) ||
        (!s.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, s.ciphersuites.c_str()) != 1)) {
        why = "invalid tls-ciphers or tls-ciphersuites: " + openssl_reason();
        SSL_CTX_free(ctx);
        return nullptr;
    }
    if (!load_files(ctx, files, why)) {
        SSL_CTX_free(ctx);
        return nullptr;
    }
    return ctx;
}

int on_servername(SSL *ssl, int *, void *arg)
{
    const auto *self = static_cast<const Context *>(arg);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name != nullptr)
        if (SSL_CTX *ctx = self->for_hostname(name))
            SSL_set_SSL_CTX(ssl, ctx);
    return SSL_TLSEXT_ERR_OK; // an unknown name gets the main certificate
}

} // namespace

Context::~Context()
{
    for (auto &e : sni_)
        SSL_CTX_free(e.ctx);
    SSL_CTX_free(main_);
}

std::unique_ptr<Context> Context::create(const ContextSettings &settings, std::string &why,
                                         [[maybe_unused]] std::vector<std::string> &warnings)
{
    std::unique_ptr<Context> c(new Context);
    c->main_ = make_ctx(settings, settings.main, why);
    if (c->main_ == nullptr)
        return nullptr;
    for (const auto &sni : settings.sni) {
        SSL_CTX *ctx = make_ctx(settings, sni.files, why);
        if (ctx == nullptr) {
            why = "tls-sni " + sni.hostname + ": " + why;
            return nullptr;
        }
        c->sni_.push_back(Entry{util::ascii_lower(sni.hostname), ctx});
    }
    if (!c->sni_.empty()) {
        // The macro form casts in C style; this is what it expands to.
        SSL_CTX_callback_ctrl(c->main_, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                              reinterpret_cast<void (*)()>(on_servername));
        SSL_CTX_set_tlsext_servername_arg(c->main_, c.get());
    }
    return c;
}

SSL_CTX *Context::for_hostname(const std::string &name) const
{
    const std::string host = util::ascii_lower(name);
    for (const auto &e : sni_)
        if (e.hostname == host)
            return e.ctx;
    // "*.example.org" covers exactly one more label.
    auto dot = host.find('.');
    if (dot != std::string::npos && dot > 0)
        for (const auto &e : sni_)
            if (e.hostname.size() > 2 && e.hostname.compare(0, 2, "*.") == 0 &&
                e.hostname.compare(1, std::string::npos, host, dot) == 0)
                return e.ctx;
    return nullptr;
}

ContextSettings::Sni parse_sni(const std::string &value)
{
    std::vector<std::string> words = util::split_words(value);
    words.resize(4);
    return ContextSettings::Sni{util::ascii_lower(words[0]),
                                CertificateFiles{words[1], words[2], words[3]}};
}

} // namespace modpop3d::tls
