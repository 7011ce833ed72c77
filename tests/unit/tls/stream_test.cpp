// stream_test.cpp - tls::Stream's own send buffer: a session ticket waits
// for the greeting and both leave in one send; a client that stops reading
// gets every byte in order once it reads again, with the buffer bounded;
// a peer's EOF reads as a close, and a peer that is gone fails a send.
#include "tls_pair.hpp"

#include <gtest/gtest.h>
#include <string>

using tls_test::Io;
using tls_test::Pair;

namespace
{

// client_read - what the client can read now (SSL_read until it would block).
std::string client_read(SSL *client)
{
    std::string got;
    char buf[16384];
    for (;;) {
        std::size_t n = 0;
        if (SSL_read_ex(client, buf, sizeof buf, &n) != 1)
            return got;
        got.append(buf, n);
    }
}

// handshake_keeping_the_ticket - the handshake, leaving what the server
// wrote after it (TLS 1.3: the session ticket) unsent.
bool handshake_keeping_the_ticket(Pair &p)
{
    bool server_done = false, client_done = false;
    for (int i = 0; i < 200 && !(server_done && client_done); ++i) {
        if (!client_done)
            client_done = SSL_do_handshake(p.client) == 1;
        if (!server_done) {
            const Io r = p.server->handshake();
            if (r == Io::error || r == Io::closed)
                return false;
            server_done = r == Io::ok;
        }
    }
    return server_done && client_done;
}

} // namespace

TEST(TlsStream, TicketWaitsForTheGreetingAndBothLeaveInOneSend)
{
    Pair p(TLS1_3_VERSION);
    ASSERT_TRUE(handshake_keeping_the_ticket(p));
    const std::size_t ticket = p.server->unsent();
    EXPECT_GT(ticket, 0u);                // NewSessionTicket, written after the handshake
    EXPECT_EQ(client_read(p.client), ""); // nothing has reached the client

    const std::string greeting = "+OK ready\r\n";
    std::size_t put = 0;
    ASSERT_EQ(p.server->write(greeting.data(), greeting.size(), put), Io::ok);
    EXPECT_EQ(put, greeting.size());
    EXPECT_GT(p.server->unsent(), ticket); // the greeting's record joined it
    EXPECT_EQ(client_read(p.client), "");

    const uint64_t before = p.server->sent();
    ASSERT_EQ(p.server->send_pending(), Io::ok);
    EXPECT_EQ(p.server->unsent(), 0u);
    EXPECT_GT(p.server->sent(), before);
    EXPECT_EQ(client_read(p.client), greeting);
    EXPECT_EQ(SSL_SESSION_is_resumable(SSL_get0_session(p.client)), 1); // the ticket arrived
}

TEST(TlsStream, SlowReaderGetsEveryByteInOrderWithABoundedBuffer)
{
    Pair p(TLS1_3_VERSION);
    ASSERT_TRUE(p.handshake());
    std::string data(4 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
    std::size_t offered = 0;
    std::string received;
    bool saw_want_write = false;
    for (int round = 0; round < 100000 && received.size() < data.size(); ++round) {
        // The server writes until the socket (and the buffer) are full...
        while (offered < data.size()) {
            std::size_t put = 0;
            const Io r = p.server->write(data.data() + offered,
                                         std::min<std::size_t>(data.size() - offered, 65536), put);
            offered += put;
            if (r == Io::want_write) {
                saw_want_write = true;
                break;
            }
            ASSERT_EQ(r, Io::ok);
        }
        ASSERT_NE(p.server->send_pending(), Io::error);
        // ...holding at most 64 KiB and one record more than the socket took.
        EXPECT_LE(p.server->unsent(), 64u * 1024 + 17u * 1024);
        // Then the client reads what arrived.
        received += client_read(p.client);
    }
    EXPECT_TRUE(saw_want_write); // the socket did fill up
    ASSERT_EQ(received.size(), data.size());
    EXPECT_TRUE(received == data);
}

TEST(TlsStream, PeerEofReadsAsClosed)
{
    Pair p(TLS1_3_VERSION);
    ASSERT_TRUE(p.handshake());
    ASSERT_EQ(p.server->send_pending(), Io::ok);
    ::shutdown(p.cfd, SHUT_WR); // no close_notify: most POP3 clients do this
    char buf[64];
    std::size_t got = 0;
    Io r = Io::want_read;
    for (int i = 0; i < 100 && r == Io::want_read; ++i)
        r = p.server->read(buf, sizeof buf, got);
    EXPECT_EQ(r, Io::closed);
}

TEST(TlsStream, SendToAPeerThatIsGoneFails)
{
    Pair p(TLS1_3_VERSION);
    ASSERT_TRUE(p.handshake());
    ::close(p.cfd);
    p.cfd = -1;
    const std::string reply = "+OK 1 octets\r\n";
    std::size_t put = 0;
    ASSERT_EQ(p.server->write(reply.data(), reply.size(), put), Io::ok); // only buffered
    EXPECT_EQ(p.server->send_pending(), Io::error);
    EXPECT_FALSE(p.server->error_text().empty());
}
