// base64.hpp - RFC 4648 base64, shared by the POP3 engine (SASL, RFC 5034)
// and the password schemes.
//
// Decoding is strict: the standard alphabet only, length a multiple of 4,
// padding only at the end, no whitespace, and unused bits must be zero.
// Anything else is invalid (the engine answers "-ERR").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace modpop3d::base64
{

std::string encode(std::string_view data);

// decode - the decoded bytes, or nullopt when `text` is not valid base64.
// The empty string decodes to the empty string.
std::optional<std::string> decode(std::string_view text);

} // namespace modpop3d::base64
