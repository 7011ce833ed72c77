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
    // users_with_prefix - the users whose name starts with `prefix`, in
    // manifest order (or exactly the user named `prefix`, if there is one).
    std::vector<const User *> users_with_prefix(const std::string &prefix) const;

  private:
    std::vector<User> users_;
    std::unordered_map<std::string, std::size_t> index_;
};

} // namespace bench
