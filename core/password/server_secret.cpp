// server_secret.cpp - the installation's secret key (see server_secret.hpp).
#include "password/server_secret.hpp"

#include "password/password_digest.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

namespace modpop3d::password
{

namespace
{

constexpr std::size_t key_size = 32;

struct Key {
    std::mutex lock;
    std::string bytes; // empty: not made yet
};

Key &key() noexcept
{
    static Key k;
    return k;
}

bool read_key(int fd, const std::string &path, std::string &out, std::string &why)
{
    struct stat st {
    };
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        why = path + ": not a regular file";
        return false;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        why = path + ": readable or writable by group or others (chmod 600 " + path + ")";
        return false;
    }
    std::string bytes(key_size + 1, '\0');
    ssize_t n = read(fd, bytes.data(), bytes.size());
    if (n != static_cast<ssize_t>(key_size)) {
        OPENSSL_cleanse(bytes.data(), bytes.size());
        why = path + ": not a key of " + std::to_string(key_size) +
              " bytes (remove it to have a new one made)";
        return false;
    }
    bytes.resize(key_size);
    out = std::move(bytes);
    return true;
}

} // namespace

bool server_secret_load(const std::string &path, std::string &why)
{
    std::string bytes;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        // First start: make it. O_EXCL: of two racing starts one makes it,
        // the other reads what was made.
        bytes.resize(key_size);
        digest::random_bytes(bytes.data(), bytes.size());
        int out = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (out >= 0) {
            bool ok = write(out, bytes.data(), bytes.size()) == static_cast<ssize_t>(key_size) &&
                      fsync(out) == 0;
            close(out);
            if (!ok) {
                unlink(path.c_str());
                why = path + ": cannot write the new key: " + std::strerror(errno);
                OPENSSL_cleanse(bytes.data(), bytes.size());
                return false;
            }
        } else if (errno != EEXIST) {
            why = path + ": cannot create: " + std::strerror(errno);
            return false;
        }
        fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) {
        why = path + ": " + std::strerror(errno);
        return false;
    }
    bool ok = read_key(fd, path, bytes, why);
    close(fd);
    if (!ok)
        return false;
    std::lock_guard g(key().lock);
    if (!key().bytes.empty())
        OPENSSL_cleanse(key().bytes.data(), key().bytes.size());
    key().bytes = std::move(bytes);
    return true;
}

std::string server_secret_derive(std::string_view purpose)
{
    std::lock_guard g(key().lock);
    if (key().bytes.empty()) {
        key().bytes.resize(key_size);
        digest::random_bytes(key().bytes.data(), key().bytes.size());
    }
    const digest::Sha256 mac = digest::hmac_sha256(key().bytes, purpose);
    return std::string(digest::as_text(mac));
}

} // namespace modpop3d::password
