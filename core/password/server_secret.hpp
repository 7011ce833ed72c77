// server_secret.hpp - the one secret key of a modpop3d installation, from
// which per-purpose keys are derived (today: the made-up SCRAM salts of
// unknown users, which must be the same in every worker and after every
// restart, or comparing two answers tells that a user does not exist).
//
// With `secret-key-file` set, the key is read from that file, made there
// (32 random bytes, mode 0600) the first time; the master loads it before
// forking, so every process shares it. Without, the master makes one at
// start: the same in every worker, new after a restart.
#pragma once

#include <string>
#include <string_view>

namespace modpop3d::password
{

// server_secret_load - read `path` (or create it if it does not exist).
// False with `why` naming the file when it is unreadable, of the wrong size,
// not a regular file, or readable or writable by group or others.
bool server_secret_load(const std::string &path, std::string &why);

// server_secret_derive - HMAC-SHA256(key, purpose): a 32-byte key for one
// purpose. Makes a random key first if none was loaded.
std::string server_secret_derive(std::string_view purpose);

} // namespace modpop3d::password
