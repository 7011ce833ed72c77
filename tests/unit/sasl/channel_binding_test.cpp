// channel_binding_test.cpp - the channel binding SCRAM-SHA-256-PLUS gets
// (channel_binding_of() in core/worker/sasl_exchange over tls::Stream): a
// real TLS handshake over a socketpair with a throw-away self-signed
// certificate, then the server's binding data must equal what the client
// side computes: the RFC 9266 exporter under TLS 1.3, the first Finished
// message (RFC 5929 tls-unique) under TLS 1.2.
#include "../tls/tls_pair.hpp"
#include "worker/sasl_exchange.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

using modpop3d::daemon::channel_binding_of;
using tls_test::Pair;

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
