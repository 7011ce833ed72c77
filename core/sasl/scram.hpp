// scram.hpp - SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677),
// server side.
//
// Secrets: a stored verifier "{SCRAM-SHA-256}i:salt:StoredKey:ServerKey"
// (core/password/password_scram.hpp), or "{PLAIN}password", from which the
// verifier is computed on the fly with a salt derived from the user name
// (Options::mock_key) and the default iteration count. An unknown user gets
// a made-up salt the same way, and the exchange runs to the proof, which
// then fails: the client cannot tell an unknown user from a wrong password.
//
// Parsing is strict (RFC 5802 section 7): gs2 header "n,", "y," or
// "p=cb-name," then "" or "a=authzid" and ","; client-first "n=user,r=nonce"
// with no "m=" (mandatory extensions are not supported: failure); optional
// extensions are ignored. client-final "c=...,r=...[,ext],p=proof". The
// authzid must be empty or equal to the user (no proxy logins). saslname
// escapes are "=2C" and "=3D" only. SASLprep is not applied (the stored
// verifiers are made the same way, see password_scram.hpp).
//
// Channel binding (RFC 5802 section 6): SCRAM-SHA-256-PLUS needs "p=" with
// the connection's binding type and its data in c=; a "p=" flag under plain
// SCRAM-SHA-256 fails; "y" fails when the server advertised -PLUS (a
// downgrade); "n" is always accepted under plain SCRAM-SHA-256.
#pragma once

#include "sasl/mechanism.hpp"

namespace modpop3d::sasl
{

std::unique_ptr<Mechanism> make_scram_sha256(Options options, bool plus);

// scram_unescape - a saslname with "=2C"/"=3D" decoded; nullopt when empty,
// or with another '=' sequence, a ',' or NUL.
std::optional<std::string> scram_unescape(std::string_view saslname);

} // namespace modpop3d::sasl
