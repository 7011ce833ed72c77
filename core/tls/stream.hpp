// stream.hpp - one TLS connection over a non-blocking socket, driven by the
// event loop: handshake, read and write report what they wait for instead
// of blocking. Also gives what SASL channel binding needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace modpop3d::tls
{

enum class Io : uint8_t {
    ok,         // progress (handshake done, or bytes moved)
    want_read,  // call again when the socket is readable
    want_write, // call again when the socket is writable
    closed,     // the peer closed the TLS session (close_notify or EOF)
    error,      // protocol or socket error: drop the connection
};

struct ChannelBinding {
    std::string type; // "tls-exporter" (TLS 1.3) or "tls-unique" (TLS 1.2)
    std::string data;
};

class Stream
{
  public:
    Stream(SSL_CTX *ctx, int fd);
    ~Stream();
    Stream(const Stream &) = delete;
    Stream &operator=(const Stream &) = delete;

    bool valid() const { return ssl_ != nullptr; }
    Io handshake();
    Io read(char *buf, std::size_t len, std::size_t &got);
    Io write(const char *buf, std::size_t len, std::size_t &put);
    // buffered - decrypted bytes OpenSSL holds that the socket will not
    // announce again (read them before waiting for EPOLLIN).
    bool buffered() const;
    // shutdown - send close_notify, without waiting for the peer's.
    void shutdown();

    std::string version() const; // "TLSv1.3"
    std::string cipher() const;
    bool resumed() const;
    // channel_binding - RFC 9266 tls-exporter on TLS 1.3, RFC 5929
    // tls-unique on TLS 1.2; empty data when unavailable.
    ChannelBinding channel_binding() const;
    // error_text - OpenSSL's reason for the last error (for the log).
    const std::string &error_text() const { return error_; }

  private:
    Io result(int rc);
    SSL *ssl_ = nullptr;
    std::string error_;
};

} // namespace modpop3d::tls
