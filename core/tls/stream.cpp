// stream.cpp - one TLS connection (see stream.hpp).
#include "tls/stream.hpp"

#include <cerrno>
#include <cstring>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace modpop3d::tls
{

Stream::Stream(SSL_CTX *ctx, int fd)
{
    ssl_ = SSL_new(ctx);
    if (ssl_ != nullptr && SSL_set_fd(ssl_, fd) != 1) {
        SSL_free(ssl_);
        ssl_ = nullptr;
    }
    if (ssl_ != nullptr)
        SSL_set_accept_state(ssl_);
}

Stream::~Stream()
{
    SSL_free(ssl_);
}

Io Stream::result(int rc)
{
    int e = SSL_get_error(ssl_, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return Io::want_read;
    case SSL_ERROR_WANT_WRITE:
        return Io::want_write;
    case SSL_ERROR_ZERO_RETURN:
        return Io::closed;
    case SSL_ERROR_SYSCALL:
        if (errno == EAGAIN || errno == EINTR)
            return Io::want_read;
        error_ = errno != 0 ? std::strerror(errno) : "unexpected EOF";
        ERR_clear_error();
        return Io::error;
    default: {
        unsigned long code = ERR_get_error();
        char buf[256] = "TLS error";
        if (code != 0)
            ERR_error_string_n(code, buf, sizeof buf);
        error_ = buf;
        ERR_clear_error();
        return Io::error;
    }
    }
}

Io Stream::handshake()
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(ssl_);
    return rc == 1 ? Io::ok : result(rc);
}

Io Stream::read(char *buf, std::size_t len, std::size_t &got)
{
    got = 0;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read_ex(ssl_, buf, len, &got);
    if (rc == 1)
        return Io::ok;
    return result(rc);
}

Io Stream::write(const char *buf, std::size_t len, std::size_t &put)
{
    put = 0;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_write_ex(ssl_, buf, len, &put);
    return rc == 1 ? Io::ok : result(rc);
}

bool Stream::buffered() const
{
    return SSL_pending(ssl_) > 0 || SSL_has_pending(ssl_) == 1;
}

void Stream::shutdown()
{
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
}

std::string Stream::version() const
{
    return SSL_get_version(ssl_);
}

std::string Stream::cipher() const
{
    const char *c = SSL_get_cipher_name(ssl_);
    return c != nullptr ? c : "";
}

bool Stream::resumed() const
{
    return SSL_session_reused(ssl_) == 1;
}

ChannelBinding Stream::channel_binding() const
{
    ChannelBinding cb;
    if (SSL_version(ssl_) >= TLS1_3_VERSION) {
        static const char label[] = "EXPORTER-Channel-Binding";
        unsigned char out[32];
        if (SSL_export_keying_material(ssl_, out, sizeof out, label, sizeof label - 1, nullptr, 0,
                                       0) == 1) {
            cb.type = "tls-exporter";
            cb.data.assign(reinterpret_cast<char *>(out), sizeof out);
        }
        return cb;
    }
    // tls-unique: the first Finished message of the latest handshake; on a
    // full handshake the server's view of it is the client's Finished.
    unsigned char fin[64];
    std::size_t n = SSL_session_reused(ssl_) ? SSL_get_finished(ssl_, fin, sizeof fin)
                                             : SSL_get_peer_finished(ssl_, fin, sizeof fin);
    if (n > 0 && n <= sizeof fin) {
        cb.type = "tls-unique";
        cb.data.assign(reinterpret_cast<char *>(fin), n);
    }
    return cb;
}

} // namespace modpop3d::tls
