// password.hpp - verify a plaintext password against a stored secret, and
// make stored secrets.
//
// Stored secrets are "{SCHEME}value" (scheme names are case-insensitive) or
// bare crypt(3) strings. This is the one place that knows password schemes:
// the host services password_verify()/password_dummy_verify() and the
// modpop3d-passwd tool both use it.
//
// Schemes password_verify() understands:
//   bare "$y$" "$6$" "$5$" "$2b$" "$2y$" "$1$" ... crypt(3) via libxcrypt
//   bare "$argon2id$" "$argon2i$"  libargon2 encoded strings
//   bare "!..." or "*..."          locked / no password (shadow(5)): BADPASS
//   {CRYPT} {CRYPT_MD5} {SHA512-CRYPT} {SHA256-CRYPT} {BLF-CRYPT} {MD5-CRYPT}
//                                  the value is a crypt(3) string
//   {PLAIN} {PLAINTEXT} {CLEARTEXT} the secret itself
//   {MD5} {PLAIN-MD5}              tpop3d: MD5 of the password, 32 hex digits
//                                  (either case) or 24 base64 characters; a value
//                                  starting "$1$" is md5-crypt (Dovecot's {MD5})
//   {SHA1} {SHA}                   SHA-1, 40 hex digits (tpop3d) or 28 base64
//                                  characters (Dovecot, LDAP)
//   {MYSQL}                        MySQL PASSWORD(): 4.1+ "*" + 40 hex digits
//                                  (SHA1(SHA1(pw))), or pre-4.1 OLD_PASSWORD()
//                                  16 hex digits, or its first 8 (tpop3d accepts
//                                  both lengths); the old hash skips blanks
//   {ARGON2ID} {ARGON2I} {ARGON2}  "$argon2id$v=19$m=..,t=..,p=..$salt$hash"
//   {SCRAM-SHA-256}                "i:salt:StoredKey:ServerKey" (base64); the
//                                  plaintext is checked by recomputing StoredKey
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace modpop3d::password
{

// Passwords longer than this are refused (BADPASS / invalid_argument): the
// cost of sha*-crypt grows with the length, and no real password is longer.
inline constexpr std::size_t password_max_length = 1024;

// password_verify - MODPOP3D_OK, MODPOP3D_E_BADPASS or MODPOP3D_E_NOTSUP
// (unknown scheme or malformed value; MODPOP3D_E_INTERNAL if a library fails).
// Comparisons are constant-time in the secret. A wrong password also runs
// the dummy verification unless the secret is of the dummy's own scheme, so
// that a failure costs about what an unknown user's does.
int32_t password_verify(std::string_view stored, std::string_view plain) noexcept;

// password_dummy_verify - burn the time of one default-scheme verification;
// always MODPOP3D_E_BADPASS (unknown users look like wrong passwords).
int32_t password_dummy_verify(std::string_view plain) noexcept;

// password_prepare - make the dummy hash now (with `default_scheme`, a
// password_hash() scheme) instead of on the first unknown user, and choose
// the scheme whose cost unknown users should mimic. Thread-safe; the core
// calls it once at startup. Returns false when the scheme is unknown (the
// dummy then stays at the yescrypt default).
bool password_prepare(std::string_view default_scheme = "yescrypt") noexcept;

// password_dummy_runs - how many dummy verifications this process has run
// (for tests: a failure's cost is a dummy verification, not a clock reading).
uint64_t password_dummy_runs() noexcept;

// password_hash - make a stored secret for `plain` with `scheme`
// (case-insensitive): yescrypt, sha512-crypt, sha256-crypt, bcrypt,
// md5-crypt (legacy), argon2id, scram-sha-256, plain. Salts come from
// getrandom(2). crypt schemes give bare crypt(3) strings, the others
// "{SCHEME}..." strings. Throws std::invalid_argument for an unknown scheme
// or an unusable password (empty, too long, NUL for crypt schemes), and
// std::runtime_error when a library fails.
std::string password_hash(std::string_view scheme, std::string_view plain);

// password_scram_verifier - "{SCRAM-SHA-256}i:salt:StoredKey:ServerKey"
// with a random 16-byte salt.
std::string password_scram_verifier(std::string_view plain, uint32_t iterations = 4096);

// password_hash_schemes - the scheme names password_hash() accepts.
std::vector<std::string> password_hash_schemes();

} // namespace modpop3d::password
