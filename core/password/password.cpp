// password.cpp - password schemes: verification of every stored form listed
// in password.hpp, the dummy verification for unknown users, and making new
// stored secrets for modpop3d-passwd.
#include "password/password.hpp"

#include "password/password_digest.hpp"
#include "password/password_scram.hpp"
#include "util/ascii.hpp"

#include <argon2.h>
#include <atomic>
#include <charconv>
#include <crypt.h>
#include <cstring>
#include <memory>
#include <modpop3d/status.h>
#include <mutex>
#include <stdexcept>

namespace modpop3d::password
{

namespace
{

bool iequals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = static_cast<char>(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

bool any_of(std::string_view name, std::initializer_list<std::string_view> names) noexcept
{
    for (auto n : names)
        if (iequals(name, n))
            return true;
    return false;
}

// --- crypt(3) ---------------------------------------------------------------

int32_t verify_crypt(std::string_view hash, std::string_view plain)
{
    if (hash.empty() || hash.find('\0') != std::string_view::npos)
        return MODPOP3D_E_NOTSUP;
    // crypt(3) stops at a NUL: hash what precedes it (same cost), but such a
    // password never matches.
    const bool has_nul = plain.find('\0') != std::string_view::npos;
    auto data = std::make_unique<crypt_data>();
    std::string h(hash), p(plain.substr(0, plain.find('\0')));
    const char *out = crypt_r(p.c_str(), h.c_str(), data.get());
    // `out` points into `data`: compare before wiping it.
    const bool failed = out == nullptr || out[0] == '*';
    const bool same = !failed && digest::equal(out, hash);
    explicit_bzero(data.get(), sizeof(crypt_data));
    explicit_bzero(p.data(), p.size());
    if (failed)
        return MODPOP3D_E_NOTSUP;
    return same && !has_nul ? MODPOP3D_OK : MODPOP3D_E_BADPASS;
}

// --- Argon2 ------------------------------------------------------------------

// Bounds on parameters read from stored strings, so that one bad line cannot
// make every login allocate gigabytes or spin for minutes.
constexpr uint32_t argon2_max_m_kib = 1u << 20; // 1 GiB
constexpr uint32_t argon2_max_t = 64;
constexpr uint32_t argon2_max_p = 16;

bool argon2_params_ok(std::string_view encoded) noexcept
{
    // $argon2id$v=19$m=65536,t=3,p=1$salt$hash (the v= part is optional)
    std::size_t pos = encoded.find('$', 1);
    if (pos == std::string_view::npos)
        return false;
    std::string_view rest = encoded.substr(pos + 1);
    if (rest.substr(0, 2) == "v=") {
        pos = rest.find('$');
        if (pos == std::string_view::npos)
            return false;
        rest.remove_prefix(pos + 1);
    }
    rest = rest.substr(0, rest.find('$'));
    uint32_t m = 0, t = 0, p = 0;
    int seen = 0;
    while (!rest.empty()) {
        std::string_view item = rest.substr(0, rest.find(','));
        rest.remove_prefix(std::min(rest.size(), item.size() + 1));
        if (item.size() < 3 || item[1] != '=')
            return false;
        uint32_t *dst = item[0] == 'm' ? &m : item[0] == 't' ? &t : item[0] == 'p' ? &p : nullptr;
        if (dst == nullptr)
            return false;
        auto [ptr, ec] = std::from_chars(item.data() + 2, item.data() + item.size(), *dst);
        if (ec != std::errc() || ptr != item.data() + item.size())
            return false;
        ++seen;
    }
    return seen == 3 && m <= argon2_max_m_kib && t >= 1 && t <= argon2_max_t && p >= 1 &&
           p <= argon2_max_p;
}

int32_t verify_argon2(std::string_view encoded, std::string_view plain)
{
    argon2_type type;
    if (encoded.starts_with("$argon2id$"))
        type = Argon2_id;
    else if (encoded.starts_with("$argon2i$"))
        type = Argon2_i;
    else if (encoded.starts_with("$argon2d$"))
        type = Argon2_d;
    else
        return MODPOP3D_E_NOTSUP;
    if (encoded.find('\0') != std::string_view::npos || !argon2_params_ok(encoded))
        return MODPOP3D_E_NOTSUP;
    std::string e(encoded);
    // libargon2 compares the recomputed tag in constant time.
    switch (argon2_verify(e.c_str(), plain.data(), plain.size(), type)) {
    case ARGON2_OK:
        return MODPOP3D_OK;
    case ARGON2_VERIFY_MISMATCH:
        return MODPOP3D_E_BADPASS;
    case ARGON2_MEMORY_ALLOCATION_ERROR:
        return MODPOP3D_E_NOMEM;
    default: // decoding errors: a malformed stored string
        return MODPOP3D_E_NOTSUP;
    }
}

// --- unsalted legacy digests (tpop3d) -------------------------------------------

// Decode a digest stored as hex (2*N digits) or base64; nullopt otherwise.
std::optional<digest::Bytes> decode_digest(std::string_view value, std::size_t n)
{
    std::optional<digest::Bytes> raw;
    if (value.size() == 2 * n)
        raw = digest::hex_decode(value);
    else if (value.size() == (n + 2) / 3 * 4)
        raw = digest::base64_decode(value);
    if (raw && raw->size() != n)
        raw.reset();
    return raw;
}

int32_t verify_md5(std::string_view value, std::string_view plain)
{
    if (value.starts_with("$1$"))
        return verify_crypt(value, plain);
    auto raw = decode_digest(value, 16);
    if (!raw)
        return MODPOP3D_E_NOTSUP;
    return digest::equal(digest::as_text(digest::md5(plain)), digest::as_text(*raw))
               ? MODPOP3D_OK
               : MODPOP3D_E_BADPASS;
}

int32_t verify_sha1(std::string_view value, std::string_view plain)
{
    auto raw = decode_digest(value, 20);
    if (!raw)
        return MODPOP3D_E_NOTSUP;
    return digest::equal(digest::as_text(digest::sha1(plain)), digest::as_text(*raw))
               ? MODPOP3D_OK
               : MODPOP3D_E_BADPASS;
}

// mysql_old_password - MySQL's pre-4.1 PASSWORD() (OLD_PASSWORD()) as 8 raw
// bytes. Only the low 31 bits of each half are kept, and no operation moves
// high bits down, so 64-bit arithmetic gives the 32-bit platforms' result.
std::array<unsigned char, 8> mysql_old_password(std::string_view plain)
{
    uint64_t nr = 1345345333u, add = 7, nr2 = 0x12345671u;
    for (unsigned char c : plain) {
        if (c == ' ' || c == '\t')
            continue;
        nr ^= (((nr & 63) + add) * c) + (nr << 8);
        nr2 += (nr2 << 8) ^ nr;
        add += c;
    }
    const uint32_t a = static_cast<uint32_t>(nr & 0x7fffffffu);
    const uint32_t b = static_cast<uint32_t>(nr2 & 0x7fffffffu);
    return {static_cast<unsigned char>(a >> 24), static_cast<unsigned char>(a >> 16),
            static_cast<unsigned char>(a >> 8),  static_cast<unsigned char>(a),
            static_cast<unsigned char>(b >> 24), static_cast<unsigned char>(b >> 16),
            static_cast<unsigned char>(b >> 8),  static_cast<unsigned char>(b)};
}

int32_t verify_mysql(std::string_view value, std::string_view plain)
{
    if (value.size() == 41 && value[0] == '*') {
        auto raw = digest::hex_decode(value.substr(1));
        if (!raw)
            return MODPOP3D_E_NOTSUP;
        const auto stage1 = digest::sha1(plain);
        const auto stage2 = digest::sha1(digest::as_text(stage1));
        return digest::equal(digest::as_text(stage2), digest::as_text(*raw)) ? MODPOP3D_OK
                                                                             : MODPOP3D_E_BADPASS;
    }
    if (value.size() != 16 && value.size() != 8)
        return MODPOP3D_E_NOTSUP;
    auto raw = digest::hex_decode(value);
    if (!raw)
        return MODPOP3D_E_NOTSUP;
    const auto mine = mysql_old_password(plain);
    return digest::equal(digest::as_text(mine.data(), raw->size()), digest::as_text(*raw))
               ? MODPOP3D_OK
               : MODPOP3D_E_BADPASS;
}

// --- plaintext and SCRAM -----------------------------------------------------

int32_t verify_plaintext(std::string_view secret, std::string_view plain)
{
    if (secret.empty()) // "{PLAIN}" alone: no password is set, nothing matches
        return MODPOP3D_E_NOTSUP;
    // Compare digests so that neither the content nor the length of the
    // secret shows in the timing.
    return digest::equal(digest::as_text(digest::sha256(secret)),
                         digest::as_text(digest::sha256(plain)))
               ? MODPOP3D_OK
               : MODPOP3D_E_BADPASS;
}

int32_t verify_scram(std::string_view value, std::string_view plain)
{
    auto stored = parse_scram_verifier(value);
    if (!stored)
        return MODPOP3D_E_NOTSUP;
    const ScramVerifier mine = scram_compute(plain, stored->salt, stored->iterations);
    const bool a =
        digest::equal(digest::as_text(mine.stored_key), digest::as_text(stored->stored_key));
    const bool b =
        digest::equal(digest::as_text(mine.server_key), digest::as_text(stored->server_key));
    return (a & b) ? MODPOP3D_OK : MODPOP3D_E_BADPASS;
}

int32_t verify(std::string_view stored, std::string_view plain)
{
    if (plain.size() > password_max_length)
        return MODPOP3D_E_BADPASS;
    if (stored.starts_with('{')) {
        const auto close = stored.find('}');
        if (close == std::string_view::npos)
            return MODPOP3D_E_NOTSUP;
        const std::string_view scheme = stored.substr(1, close - 1);
        const std::string_view value = stored.substr(close + 1);
        if (any_of(scheme, {"PLAIN", "PLAINTEXT", "CLEARTEXT"}))
            return verify_plaintext(value, plain);
        if (any_of(scheme, {"CRYPT", "CRYPT_MD5", "MD5-CRYPT", "SHA256-CRYPT", "SHA512-CRYPT",
                            "BLF-CRYPT"}))
            return verify_crypt(value, plain);
        if (any_of(scheme, {"MD5", "PLAIN-MD5"}))
            return verify_md5(value, plain);
        if (any_of(scheme, {"SHA1", "SHA"}))
            return verify_sha1(value, plain);
        if (iequals(scheme, "MYSQL"))
            return verify_mysql(value, plain);
        if (any_of(scheme, {"ARGON2ID", "ARGON2I", "ARGON2"}))
            return verify_argon2(value, plain);
        if (iequals(scheme, "SCRAM-SHA-256"))
            return verify_scram(value, plain);
        return MODPOP3D_E_NOTSUP;
    }
    if (stored.starts_with("$argon2"))
        return verify_argon2(stored, plain);
    if (stored.starts_with('!') || stored.starts_with('*')) {
        // Locked account or no password (shadow(5)): the user exists, so
        // answer like a wrong password, after the same work.
        (void)password_dummy_verify(plain);
        return MODPOP3D_E_BADPASS;
    }
    return verify_crypt(stored, plain);
}

// --- making secrets --------------------------------------------------------------

struct CryptScheme {
    std::string_view name;
    const char *prefix;
    unsigned long count; // 0: libxcrypt's default cost
};
constexpr CryptScheme crypt_schemes[] = {
    {"yescrypt", "$y$", 0}, {"sha512-crypt", "$6$", 0}, {"sha256-crypt", "$5$", 0},
    {"bcrypt", "$2b$", 12}, {"md5-crypt", "$1$", 0},
};

// Argon2id cost for new secrets: RFC 9106's second recommendation with one
// lane (t=3, 64 MiB).
constexpr uint32_t argon2_t = 3, argon2_m_kib = 65536, argon2_p = 1;
constexpr std::size_t salt_len = 16, argon2_hash_len = 32;

std::string hash_crypt(const CryptScheme &s, std::string_view plain)
{
    if (plain.find('\0') != std::string_view::npos)
        throw std::invalid_argument("crypt(3) schemes cannot store a NUL byte");
    char rbytes[salt_len];
    digest::random_bytes(rbytes, sizeof rbytes);
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn(s.prefix, s.count, rbytes, sizeof rbytes, setting, sizeof setting) ==
        nullptr)
        throw std::runtime_error("crypt_gensalt_rn failed for " + std::string(s.name));
    auto data = std::make_unique<crypt_data>();
    std::string p(plain);
    const char *out = crypt_r(p.c_str(), setting, data.get());
    if (out == nullptr || out[0] == '*')
        throw std::runtime_error("crypt_r failed for " + std::string(s.name));
    std::string result(out);
    explicit_bzero(data.get(), sizeof(crypt_data));
    explicit_bzero(p.data(), p.size());
    return result;
}

std::string hash_argon2id(std::string_view plain)
{
    unsigned char salt[salt_len];
    digest::random_bytes(salt, sizeof salt);
    std::string encoded(argon2_encodedlen(argon2_t, argon2_m_kib, argon2_p, sizeof salt,
                                          argon2_hash_len, Argon2_id),
                        '\0');
    int rc =
        argon2id_hash_encoded(argon2_t, argon2_m_kib, argon2_p, plain.data(), plain.size(), salt,
                              sizeof salt, argon2_hash_len, encoded.data(), encoded.size());
    if (rc != ARGON2_OK)
        throw std::runtime_error(std::string("argon2id: ") + argon2_error_message(rc));
    encoded.resize(std::strlen(encoded.c_str()));
    return "{ARGON2ID}" + encoded;
}

// The dummy secret unknown users are checked against.
struct Dummy {
    std::mutex lock;
    std::shared_ptr<const std::string> secret;
};

Dummy &dummy() noexcept
{
    static Dummy d;
    return d;
}

// scheme_tag - what names a stored secret's scheme: "{NAME}" or the crypt
// prefix "$id$" (a bare crypt string without one is DES: "").
std::string scheme_tag(std::string_view stored)
{
    if (stored.starts_with('{')) {
        auto close = stored.find('}');
        return close == std::string_view::npos
                   ? std::string()
                   : util::ascii_upper(std::string(stored.substr(0, close + 1)));
    }
    if (stored.starts_with('$')) {
        auto next = stored.find('$', 1);
        return next == std::string_view::npos ? std::string()
                                              : std::string(stored.substr(0, next + 1));
    }
    return "";
}

std::atomic<uint64_t> dummy_runs{0};

std::shared_ptr<const std::string> make_dummy(std::string_view scheme)
{
    unsigned char random[18];
    digest::random_bytes(random, sizeof random);
    return std::make_shared<const std::string>(
        password_hash(scheme, digest::base64_encode(digest::as_text(random, sizeof random))));
}

// dummy_scheme_tag - the scheme of the dummy secret ("" before it exists:
// then every failure runs the dummy, which makes it).
std::string dummy_scheme_tag()
{
    std::lock_guard<std::mutex> g(dummy().lock);
    return dummy().secret ? scheme_tag(*dummy().secret) : std::string();
}

} // namespace

int32_t password_verify(std::string_view stored, std::string_view plain) noexcept
{
    try {
        const int32_t rc = verify(stored, plain);
        // A wrong password costs what an unknown user costs: one dummy
        // verification, whatever scheme the user's secret is stored in
        // ({PLAIN} and SCRAM answer in microseconds, the dummy in tens of
        // milliseconds, and the difference told who exists). A secret of
        // the dummy's own scheme already cost that much; a locked account
        // ran the dummy in verify().
        if (rc == MODPOP3D_E_BADPASS && !stored.starts_with('!') && !stored.starts_with('*') &&
            scheme_tag(stored) != dummy_scheme_tag())
            (void)password_dummy_verify(plain);
        return rc;
    } catch (const std::bad_alloc &) {
        return MODPOP3D_E_NOMEM;
    } catch (...) {
        return MODPOP3D_E_INTERNAL;
    }
}

bool password_prepare(std::string_view default_scheme) noexcept
{
    try {
        auto secret = make_dummy(default_scheme);
        std::lock_guard<std::mutex> g(dummy().lock);
        dummy().secret = std::move(secret);
        return true;
    } catch (...) {
        return false;
    }
}

int32_t password_dummy_verify(std::string_view plain) noexcept
{
    try {
        std::shared_ptr<const std::string> secret;
        {
            // Made under the lock so that concurrent first calls make one.
            std::lock_guard<std::mutex> g(dummy().lock);
            if (!dummy().secret)
                dummy().secret = make_dummy("yescrypt");
            secret = dummy().secret;
        }
        dummy_runs.fetch_add(1, std::memory_order_relaxed);
        (void)verify(*secret, plain);
    } catch (...) {
        // Still a wrong password; the time spent is all that was asked for.
    }
    return MODPOP3D_E_BADPASS;
}

uint64_t password_dummy_runs() noexcept
{
    return dummy_runs.load(std::memory_order_relaxed);
}

std::string password_hash(std::string_view scheme, std::string_view plain)
{
    if (plain.empty())
        throw std::invalid_argument("empty password");
    if (plain.size() > password_max_length)
        throw std::invalid_argument("password longer than " + std::to_string(password_max_length) +
                                    " bytes");
    for (const auto &s : crypt_schemes)
        if (iequals(scheme, s.name))
            return hash_crypt(s, plain);
    if (iequals(scheme, "argon2id"))
        return hash_argon2id(plain);
    if (iequals(scheme, "scram-sha-256"))
        return password_scram_verifier(plain);
    if (iequals(scheme, "plain")) {
        if (plain.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos)
            throw std::invalid_argument("{PLAIN} cannot store NUL, CR or LF");
        return "{PLAIN}" + std::string(plain);
    }
    throw std::invalid_argument("unknown scheme '" + std::string(scheme) + "'");
}

std::string password_scram_verifier(std::string_view plain, uint32_t iterations)
{
    if (iterations < scram_min_iterations || iterations > scram_max_iterations)
        throw std::invalid_argument("SCRAM iteration count out of range");
    char salt[salt_len];
    digest::random_bytes(salt, sizeof salt);
    return format_scram_verifier(
        scram_compute(plain, std::string_view(salt, sizeof salt), iterations));
}

std::vector<std::string> password_hash_schemes()
{
    std::vector<std::string> out;
    for (const auto &s : crypt_schemes)
        out.emplace_back(s.name);
    out.emplace_back("argon2id");
    out.emplace_back("scram-sha-256");
    out.emplace_back("plain");
    return out;
}

} // namespace modpop3d::password
