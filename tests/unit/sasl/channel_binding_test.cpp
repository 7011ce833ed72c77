// channel_binding_test.cpp - the channel binding SCRAM-SHA-256-PLUS gets
// (channel_binding_of() in core/daemon/sasl_exchange over tls::Stream): a
// real TLS handshake over a socketpair with a throw-away self-signed
// certificate, then the server's binding data must equal what the client
// side computes: the RFC 9266 exporter under TLS 1.3, the first Finished
// message (RFC 5929 tls-unique) under TLS 1.2.
#include "daemon/sasl_exchange.hpp"
#include "tls/stream.hpp"

#include <cstddef>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <memory>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

using modpop3d::daemon::channel_binding_of;
using modpop3d::tls::Io;
using modpop3d::tls::Stream;

namespace
{

struct Pair {
    SSL_CTX *sctx = nullptr, *cctx = nullptr;
    std::unique_ptr<Stream> server;
    SSL *client = nullptr;
    int sfd = -1, cfd = -1;
    EVP_PKEY *key = nullptr;
    X509 *cert = nullptr;

    explicit Pair(int version)
    {
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
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
        int fds[2];
        socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
        for (int fd : fds)
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        sfd = fds[0];
        cfd = fds[1];
        server = std::make_unique<Stream>(sctx, sfd);
        client = SSL_new(cctx);
        SSL_set_fd(client, cfd);
        SSL_set_connect_state(client);
    }
    ~Pair()
    {
        server.reset();
        SSL_free(client);
        close(sfd);
        close(cfd);
        SSL_CTX_free(sctx);
        SSL_CTX_free(cctx);
        X509_free(cert);
        EVP_PKEY_free(key);
    }
    bool handshake()
    {
        bool server_done = false, client_done = false;
        for (int i = 0; i < 200 && !(server_done && client_done); ++i) {
            if (!client_done)
                client_done = SSL_do_handshake(client) == 1;
            if (!server_done) {
                const Io r = server->handshake();
                if (r == Io::error || r == Io::closed)
                    return false;
                server_done = r == Io::ok;
            }
        }
        return server_done && client_done;
    }
};

} // namespace

TEST(ChannelBinding, NoTlsGivesNothing)
{
    EXPECT_FALSE(channel_binding_of(nullptr).available());
}

TEST(ChannelBinding, Tls13Exporter)
{
    Pair p(TLS1_3_VERSION);
    ASSERT_TRUE(p.handshake());
    const auto cb = channel_binding_of(p.server.get());
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
    const auto cb = channel_binding_of(p.server.get());
    EXPECT_EQ(cb.type, "tls-unique");
    unsigned char fin[64];
    const std::size_t n = SSL_get_finished(p.client, fin, sizeof fin); // the client's Finished
    ASSERT_GT(n, 0u);
    EXPECT_EQ(cb.data, std::string(reinterpret_cast<const char *>(fin), n));
}
