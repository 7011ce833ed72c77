// channel_binding_test.cpp - tls_channel_binding() (core/daemon/
// sasl_exchange): a real TLS handshake in memory (a BIO pair, a throw-away
// self-signed certificate), then the server's binding data must equal what
// the client side computes: the RFC 9266 exporter under TLS 1.3, the first
// Finished message (RFC 5929 tls-unique) under TLS 1.2.
#include "daemon/sasl_exchange.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

using modpop3d::daemon::tls_channel_binding;

namespace
{

struct Pair {
    SSL_CTX *sctx = nullptr, *cctx = nullptr;
    SSL *server = nullptr, *client = nullptr;
    EVP_PKEY *key = nullptr;
    X509 *cert = nullptr;

    explicit Pair(int version)
    {
        key = EVP_EC_gen("P-256");
        cert = X509_new();
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert), 0);
        X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
        X509_set_pubkey(cert, key);
        X509_NAME *name = X509_get_subject_name(cert);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char *>("localhost"), -1, -1, 0);
        X509_set_issuer_name(cert, name);
        X509_sign(cert, key, EVP_sha256());
        sctx = SSL_CTX_new(TLS_server_method());
        cctx = SSL_CTX_new(TLS_client_method());
        for (SSL_CTX *c : {sctx, cctx}) {
            SSL_CTX_set_min_proto_version(c, version);
            SSL_CTX_set_max_proto_version(c, version);
        }
        SSL_CTX_use_certificate(sctx, cert);
        SSL_CTX_use_PrivateKey(sctx, key);
        server = SSL_new(sctx);
        client = SSL_new(cctx);
        BIO *sb = nullptr, *cb = nullptr;
        BIO_new_bio_pair(&sb, 0, &cb, 0);
        SSL_set_bio(server, sb, sb);
        SSL_set_bio(client, cb, cb);
        SSL_set_accept_state(server);
        SSL_set_connect_state(client);
    }
    ~Pair()
    {
        SSL_free(server);
        SSL_free(client);
        SSL_CTX_free(sctx);
        SSL_CTX_free(cctx);
        X509_free(cert);
        EVP_PKEY_free(key);
    }
    bool handshake()
    {
        for (int i = 0; i < 100; ++i) {
            const int c = SSL_do_handshake(client);
            const int s = SSL_do_handshake(server);
            if (c == 1 && s == 1)
                return true;
        }
        return false;
    }
};

} // namespace

TEST(ChannelBinding, NoTlsGivesNothing)
{
    EXPECT_FALSE(tls_channel_binding(nullptr).available());
    Pair p(TLS1_3_VERSION);
    EXPECT_FALSE(tls_channel_binding(p.server).available()); // before the handshake
}

TEST(ChannelBinding, Tls13Exporter)
{
    Pair p(TLS1_3_VERSION);
    ASSERT_TRUE(p.handshake());
    const auto cb = tls_channel_binding(p.server);
    EXPECT_EQ(cb.type, "tls-exporter");
    unsigned char mine[32];
    static const char label[] = "EXPORTER-Channel-Binding";
    ASSERT_EQ(SSL_export_keying_material(p.client, mine, sizeof mine, label, sizeof label - 1,
                                         nullptr, 0, 0),
              1);
    EXPECT_EQ(cb.data, std::string(reinterpret_cast<const char *>(mine), sizeof mine));
}

TEST(ChannelBinding, Tls12Unique)
{
    Pair p(TLS1_2_VERSION);
    ASSERT_TRUE(p.handshake());
    const auto cb = tls_channel_binding(p.server);
    EXPECT_EQ(cb.type, "tls-unique");
    unsigned char fin[64];
    const std::size_t n = SSL_get_finished(p.client, fin, sizeof fin); // the client's Finished
    ASSERT_GT(n, 0u);
    EXPECT_EQ(cb.data, std::string(reinterpret_cast<const char *>(fin), n));
}
