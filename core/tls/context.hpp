// context.hpp - OpenSSL server contexts, one per TLS listener, built before
// privileges are dropped (keys are often readable by root only) and rebuilt
// on reload.
//
// Policy: TLS 1.2 minimum (1.3 if configured), the configured AEAD cipher
// lists, OpenSSL security level 2, no compression, no renegotiation, server
// cipher preference, session tickets (keys in memory only) and a server-side
// session cache. A listener with tls-legacy=yes accepts TLS 1.0 and security level 0
// for old clients: an explicit opt-in, never a fallback. A certificate or key
// that cannot be loaded is an error: a TLS listener never serves plaintext.
#pragma once

#include <memory>
#include <string>
#include <vector>

using SSL_CTX = struct ssl_ctx_st;

namespace modpop3d::tls
{

struct CertificateFiles {
    std::string certificate, key, chain; // PEM paths; chain may be empty
};

struct ContextSettings {
    CertificateFiles main;
    struct Sni {
        std::string hostname; // lower case; "*.example.org" matches one label
        CertificateFiles files;
    };
    std::vector<Sni> sni;
    std::string min_version = "1.2"; // 1.2 | 1.3
    bool legacy = false;             // accept TLS 1.0/1.1, security level 0
    std::string ciphers, ciphersuites;
    bool session_tickets = true;
};

class Context
{
  public:
    ~Context();
    Context(const Context &) = delete;
    Context &operator=(const Context &) = delete;

    // create - nullptr with `why` naming the file and OpenSSL's reason.
    // `warnings` is for notes that do not stop the start (none today: a
    // private key readable by others is refused).
    static std::unique_ptr<Context> create(const ContextSettings &settings, std::string &why,
                                           std::vector<std::string> &warnings);

    SSL_CTX *get() const { return main_; }
    // for_hostname - the context SNI picks for `name` (nullptr: keep main).
    SSL_CTX *for_hostname(const std::string &name) const;

  private:
    Context() = default;
    SSL_CTX *main_ = nullptr;
    struct Entry {
        std::string hostname;
        SSL_CTX *ctx = nullptr;
    };
    std::vector<Entry> sni_;
};

// parse_sni - "HOSTNAME CERTIFICATE KEY [CHAIN]" (checked by the config).
ContextSettings::Sni parse_sni(const std::string &value);

} // namespace modpop3d::tls
