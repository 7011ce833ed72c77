// stream.hpp - one TLS connection over a non-blocking socket, driven by the
// event loop: handshake, read and write report what they wait for instead
// of blocking. Also gives what SASL channel binding needs.
//
// What OpenSSL writes collects in the stream's own buffer and goes to the
// socket in send_pending(): OpenSSL writes every record and handshake
// flight on its own and flushes after each session ticket, so a ticket and
// the greeting after it would be two write(2) calls and two TCP segments.
// The caller sends once per round of work (Server::flush does). handshake()
// sends by itself whenever it must wait for the peer; write() sends when
// the buffer holds more than 64 KiB, and reports want_write when the socket
// cannot take that much.
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
    // unsent - bytes written by OpenSSL that the socket has not taken yet.
    std::size_t unsent() const { return out_.size() - out_pos_; }
    // sent - bytes the socket has taken in all (progress, for idle timers).
    uint64_t sent() const { return sent_; }
    // send_pending - give the socket what it takes of them: ok when all are
    // sent, want_write when some wait for EPOLLOUT, error when it failed.
    Io send_pending();

    std::string version() const; // "TLSv1.3"
    std::string cipher() const;
    bool resumed() const;
    // channel_binding - RFC 9266 tls-exporter on TLS 1.3, RFC 5929
    // tls-unique on TLS 1.2; empty data when unavailable.
    ChannelBinding channel_binding() const;
    // error_text - OpenSSL's reason for the last error (for the log).
    const std::string &error_text() const { return error_; }

    // The socket side of OpenSSL's BIO (stream.cpp); not for other callers.
    int bio_read(char *buf, std::size_t len);
    int bio_write(const char *buf, std::size_t len);
    bool bio_eof() const { return eof_; }

  private:
    Io result(int rc);
    bool send_now(); // false on a socket error (errno set)
    SSL *ssl_ = nullptr;
    int fd_ = -1;
    std::string out_;         // encrypted bytes not yet sent
    std::size_t out_pos_ = 0; // how much of out_ was sent
    uint64_t sent_ = 0;
    bool eof_ = false; // the peer closed its side of the socket
    std::string error_;
};

} // namespace modpop3d::tls
