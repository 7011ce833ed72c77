// tls_pair.hpp - a tls::Stream server and an OpenSSL client over a
// non-blocking socketpair, with a throw-away self-signed certificate, for
// tests of the stream itself and of what is built on it.
#pragma once

#include "tls/stream.hpp"

#include <cstddef>
#include <fcntl.h>
#include <memory>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tls_test
{

using modpop3d::tls::Io;
using modpop3d::tls::Stream;

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
        // As the daemon's contexts do (tls/context.cpp).
        SSL_CTX_set_options(sctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
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
                if (server_done && server->send_pending() == Io::error)
                    return false; // its last flight waits for send_pending
            }
        }
        return server_done && client_done;
    }
};

} // namespace tls_test
