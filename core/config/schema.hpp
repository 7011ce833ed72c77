// schema.hpp - typed configuration keys and the checking of one section
// against them. The core's own keys and each module's keys (from its
// descriptor) go through the same code, so every error reads the same way:
// "FILE:LINE: [section] key: problem; fix".
#pragma once

#include "config/diagnostics.hpp"
#include "config/parser.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace modpop3d::config
{

// Types and flags share the modapi values (MODPOP3D_CONF_*, MODPOP3D_CONFF_*).
struct KeySpec {
    std::string key;
    uint32_t type = 0;
    uint32_t flags = 0;
    std::optional<std::string> default_value;
    std::string help;
    std::string choices; // ENUM: "a|b|c"
    int64_t min = 0, max = 0;
};

using Schema = std::vector<KeySpec>;

const KeySpec *find_key(const Schema &schema, const std::string &key);
const char *type_name(uint32_t type);

// The checked, effective values of one section: defaults applied, MULTI keys
// joined by a space, each value's location kept for later messages.
struct Effective {
    const Section *section = nullptr;
    std::map<std::string, std::string> values;
    std::map<std::string, Location> where;
    std::map<std::string, int64_t> numbers; // INT, SIZE, DURATION (ms), BOOL (0/1)

    const std::string *get(const std::string &key) const
    {
        auto it = values.find(key);
        return it == values.end() ? nullptr : &it->second;
    }
    Location location_of(const std::string &key) const
    {
        auto it = where.find(key);
        if (it != where.end())
            return it->second;
        if (section != nullptr)
            return section->where;
        return Location{};
    }
};

// check_section - validate `section` against `schema`; problems go to
// `diags`. Returns the effective values (usable only when no error was added).
Effective check_section(const Section &section, const Schema &schema, Diagnostics &diags);

// Typed parsers; each returns false and sets `why` on a bad value.
bool parse_bool(const std::string &text, bool &out);
bool parse_int(const std::string &text, int64_t &out, std::string &why);
bool parse_size(const std::string &text, int64_t &out, std::string &why);
bool parse_duration_ms(const std::string &text, int64_t &out, std::string &why);

} // namespace modpop3d::config
