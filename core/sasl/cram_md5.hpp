// cram_md5.hpp - CRAM-MD5 (RFC 2195), server side.
//
// The server sends "<random.time@hostname>"; the client answers
// "user SP hex(HMAC-MD5(secret, challenge))". The secret must be stored in
// plaintext ({PLAIN}); the digest is compared in constant time. An initial
// response is refused (the mechanism is server-first).
#pragma once

#include "sasl/mechanism.hpp"

namespace modpop3d::sasl
{

std::unique_ptr<Mechanism> make_cram_md5(Options options);

// cram_md5_response - lower-case hex HMAC-MD5(secret, challenge).
std::string cram_md5_response(std::string_view secret, std::string_view challenge);

} // namespace modpop3d::sasl
