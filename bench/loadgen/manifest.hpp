// manifest.hpp - the store manifest written by bench/storegen: per user the
// password, the message count, the total POP3 size and each message's POP3
// size and RETR wire digest. The load generator checks every reply against it.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace bench
{

struct Message {
    uint64_t size = 0;  // POP3 size (CRLF line ends, not dot-stuffed)
    std::string digest; // SHA-256 hex of the dot-stuffed wire bytes
    std::string path;   // the stored file, relative to the store root ("" if none)
    // The exact RETR wire bytes (without ".\r\n"), when load_expected() could
    // rebuild them from the store and they hash to `digest`; empty otherwise.
    std::string wire;
};

struct User {
    std::string name;
    std::string password;
    uint64_t total = 0;
    std::vector<Message> messages;
    std::vector<uint64_t> sorted_sizes;                  // for LIST as a multiset
    std::unordered_map<std::string, uint64_t> by_digest; // digest -> size
};

class Manifest
{
  public:
    // load - parse FILE; on failure returns false and sets `why`.
    bool load(const std::string &path, std::string &why);
    const User *find(const std::string &name) const;
    // load_expected - for `users`, rebuild every message's wire bytes from
    // its file under `store` (CRLF, dot-stuffed, as storegen defines them)
    // and keep those whose SHA-256 equals the manifest's digest, so that a
    // RETR can be compared byte for byte instead of hashed. Returns how many
    // messages have expected bytes; `mismatched` counts files that exist but
    // hash to something else (the store and the manifest disagree).
    std::size_t load_expected(const std::string &store, const std::vector<const User *> &users,
                              std::size_t &mismatched);
    // users_with_prefix - the users whose name starts with `prefix`, in
    // manifest order (or exactly the user named `prefix`, if there is one).
    std::vector<const User *> users_with_prefix(const std::string &prefix) const;

  private:
    std::vector<User> users_;
    std::unordered_map<std::string, std::size_t> index_;
};

} // namespace bench
