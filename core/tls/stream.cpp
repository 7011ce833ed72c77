// stream.cpp - one TLS connection (see stream.hpp).
#include "tls/stream.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace modpop3d::tls
{

namespace
{

// Beyond this many unsent bytes a write goes to the socket at once, and
// OpenSSL is told to retry when the socket cannot take them.
constexpr std::size_t kSendAt = 64 * 1024;

Stream *stream_of(BIO *b)
{
    return static_cast<Stream *>(BIO_get_data(b));
}

int bio_write_ex(BIO *b, const char *buf, std::size_t len, std::size_t *written)
{
    BIO_clear_retry_flags(b);
    const int n = stream_of(b)->bio_write(buf, len);
    if (n > 0) {
        *written = static_cast<std::size_t>(n);
        return 1;
    }
    if (n == 0)
        BIO_set_retry_write(b);
    *written = 0;
    return 0;
}

int bio_read_ex(BIO *b, char *buf, std::size_t len, std::size_t *got)
{
    BIO_clear_retry_flags(b);
    const int n = stream_of(b)->bio_read(buf, len);
    if (n > 0) {
        *got = static_cast<std::size_t>(n);
        return 1;
    }
    if (n == -1)
        BIO_set_retry_read(b);
    *got = 0;
    return 0;
}

long bio_ctrl(BIO *b, int cmd, long, void *)
{
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1; // sent by Stream::send_pending, once per round of work
    case BIO_CTRL_EOF:
        return stream_of(b)->bio_eof() ? 1 : 0;
    default:
        return 0;
    }
}

int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

const BIO_METHOD *socket_method()
{
    static BIO_METHOD *const method = [] {
        BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "modpop3d socket");
        if (m != nullptr) {
            BIO_meth_set_write_ex(m, bio_write_ex);
            BIO_meth_set_read_ex(m, bio_read_ex);
            BIO_meth_set_ctrl(m, bio_ctrl);
            BIO_meth_set_create(m, bio_create);
        }
        return m;
    }();
    return method;
}

} // namespace

Stream::Stream(SSL_CTX *ctx, int fd) : fd_(fd)
{
    const BIO_METHOD *method = socket_method();
    BIO *bio = method != nullptr ? BIO_new(method) : nullptr;
    if (bio == nullptr)
        return;
    BIO_set_data(bio, this);
    ssl_ = SSL_new(ctx);
    if (ssl_ == nullptr) {
        BIO_free(bio);
        return;
    }
    SSL_set_bio(ssl_, bio, bio); // the SSL owns it now
    SSL_set_accept_state(ssl_);
}

int Stream::bio_read(char *buf, std::size_t len)
{
    ssize_t n;
    do {
        n = ::read(fd_, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        return static_cast<int>(n);
    if (n == 0) {
        eof_ = true;
        return 0;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
}

int Stream::bio_write(const char *buf, std::size_t len)
{
    if (unsent() >= kSendAt) {
        if (!send_now())
            return -2; // errno says why
        if (unsent() >= kSendAt)
            return 0; // retry when the socket is writable
    }
    if (out_pos_ == out_.size()) {
        out_.clear();
        out_pos_ = 0;
    }
    len = std::min<std::size_t>(len, INT_MAX);
    out_.append(buf, len);
    return static_cast<int>(len);
}

bool Stream::send_now()
{
    while (out_pos_ < out_.size()) {
        ssize_t n = ::send(fd_, out_.data() + out_pos_, out_.size() - out_pos_, MSG_NOSIGNAL);
        if (n > 0) {
            out_pos_ += static_cast<std::size_t>(n);
            sent_ += static_cast<uint64_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return false;
    }
    if (out_pos_ == out_.size()) {
        out_.clear();
        out_pos_ = 0;
    } else if (out_pos_ >= kSendAt) {
        out_.erase(0, out_pos_); // keep the buffer from creeping forward
        out_pos_ = 0;
    }
    return true;
}

Io Stream::send_pending()
{
    if (ssl_ == nullptr)
        return Io::ok;
    if (!send_now()) {
        error_ = std::strerror(errno);
        return Io::error;
    }
    return unsent() == 0 ? Io::ok : Io::want_write;
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
    if (rc == 1)
        return Io::ok; // what follows (a ticket) waits to go with the greeting
    Io r = result(rc);
    // The flight (or the alert) must reach the peer before waiting for it.
    const Io sent = send_pending();
    if (r == Io::want_read && sent != Io::ok)
        return sent;
    return r;
}

Io Stream::read(char *buf, std::size_t len, std::size_t &got)
{
    got = 0;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read_ex(ssl_, buf, len, &got);
    if (unsent() > 0)
        send_now(); // what reading made OpenSSL answer (a key update); rare
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
    send_now(); // with what is still unsent before it, best effort
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
