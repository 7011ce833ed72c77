// schema.cpp - typed values and section checking (see schema.hpp).
//
// DIAGNOSTICS: unknown keys (with the closest known key as the fix), bad
// values (saying what is expected), keys set twice, required keys missing.
#include "config/schema.hpp"

#include "util/expand.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <modpop3d/module.h>

namespace modpop3d::config
{

namespace
{

// edit_distance - to suggest the key the admin probably meant.
std::size_t edit_distance(const std::string &a, const std::string &b)
{
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min(
                {prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string section_name(const Section &s)
{
    return s.module.empty() ? "global section" : "[" + s.label() + "]";
}

bool parse_scaled(const std::string &text, int64_t &out, std::string &why,
                  const std::vector<std::pair<std::string, int64_t>> &units, int64_t bare_scale,
                  const char *expected)
{
    if (text.empty()) {
        why = std::string("empty value; expected ") + expected;
        return false;
    }
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || ptr == text.data() || n < 0) {
        why = std::string("'") + text + "' is not " + expected;
        return false;
    }
    std::string unit(ptr, text.data() + text.size());
    int64_t scale = bare_scale;
    if (!unit.empty()) {
        auto it = std::find_if(units.begin(), units.end(),
                               [&](const auto &u) { return u.first == unit; });
        if (it == units.end()) {
            why =
                std::string("unknown unit '") + unit + "' in '" + text + "'; expected " + expected;
            return false;
        }
        scale = it->second;
    }
    if (n > INT64_MAX / scale) {
        why = "'" + text + "' is too large";
        return false;
    }
    out = n * scale;
    return true;
}

bool check_value(const KeySpec &spec, const std::string &value, int64_t &number, std::string &why)
{
    switch (spec.type) {
    case MODPOP3D_CONF_STRING:
    case MODPOP3D_CONF_LIST:
        return true;
    case MODPOP3D_CONF_BOOL: {
        bool b = false;
        if (!parse_bool(value, b)) {
            why = "'" + value + "' is not yes or no";
            return false;
        }
        number = b ? 1 : 0;
        return true;
    }
    case MODPOP3D_CONF_INT:
        if (!parse_int(value, number, why))
            return false;
        break;
    case MODPOP3D_CONF_SIZE:
        if (!parse_size(value, number, why))
            return false;
        break;
    case MODPOP3D_CONF_DURATION:
        if (!parse_duration_ms(value, number, why))
            return false;
        break;
    case MODPOP3D_CONF_PATH:
        if (value.empty() || value[0] != '/') {
            why = "'" + value + "' is not an absolute path (it must start with '/')";
            return false;
        }
        return true;
    case MODPOP3D_CONF_ENUM: {
        std::string choices = "|" + spec.choices + "|";
        if (value.empty() || value.find('|') != std::string::npos ||
            choices.find("|" + value + "|") == std::string::npos) {
            why = "'" + value + "' is not one of: " + spec.choices;
            return false;
        }
        return true;
    }
    case MODPOP3D_CONF_TEMPLATE:
        return util::check_template(value, why);
    default:
        why = "the schema gives this key an unknown type";
        return false;
    }
    if (spec.min < spec.max && (number < spec.min || number > spec.max)) {
        why = "'" + value + "' is out of range (" + std::to_string(spec.min) + " to " +
              std::to_string(spec.max) +
              (spec.type == MODPOP3D_CONF_DURATION ? " ms)"
               : spec.type == MODPOP3D_CONF_SIZE   ? " bytes)"
                                                   : ")");
        return false;
    }
    return true;
}

} // namespace

const KeySpec *find_key(const Schema &schema, const std::string &key)
{
    for (const auto &k : schema)
        if (k.key == key)
            return &k;
    return nullptr;
}

const char *type_name(uint32_t type)
{
    switch (type) {
    case MODPOP3D_CONF_STRING:
        return "string";
    case MODPOP3D_CONF_INT:
        return "integer";
    case MODPOP3D_CONF_BOOL:
        return "yes|no";
    case MODPOP3D_CONF_LIST:
        return "list";
    case MODPOP3D_CONF_PATH:
        return "path";
    case MODPOP3D_CONF_SIZE:
        return "size";
    case MODPOP3D_CONF_DURATION:
        return "duration";
    case MODPOP3D_CONF_ENUM:
        return "enum";
    case MODPOP3D_CONF_TEMPLATE:
        return "template";
    default:
        return "?";
    }
}

bool parse_bool(const std::string &text, bool &out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (auto y : yes)
        if (text == y) {
            out = true;
            return true;
        }
    for (auto n : no)
        if (text == n) {
            out = false;
            return true;
        }
    return false;
}

bool parse_int(const std::string &text, int64_t &out, std::string &why)
{
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
        why = "'" + text + "' is not a whole number";
        return false;
    }
    return true;
}

bool parse_size(const std::string &text, int64_t &out, std::string &why)
{
    return parse_scaled(text, out, why,
                        {{"k", 1024}, {"K", 1024}, {"M", 1024 * 1024}, {"G", 1024LL * 1024 * 1024}},
                        1, "a size such as 512, 64k, 10M or 1G");
}

bool parse_duration_ms(const std::string &text, int64_t &out, std::string &why)
{
    return parse_scaled(text, out, why,
                        {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}},
                        1000, "a duration such as 30, 500ms, 30s, 10m, 2h or 1d");
}

Effective check_section(const Section &section, const Schema &schema, Diagnostics &diags)
{
    Effective eff;
    eff.section = &section;
    const std::string where_name = section_name(section);
    for (const auto &entry : section.entries) {
        const KeySpec *spec = find_key(schema, entry.key);
        if (spec == nullptr) {
            std::string fix;
            std::size_t best = 3;
            for (const auto &k : schema) {
                auto d = edit_distance(entry.key, k.key);
                if (d < best) {
                    best = d;
                    fix = k.key;
                }
            }
            diags.error(entry.where,
                        "unknown key '" + entry.key + "' in " + where_name +
                            (fix.empty() ? std::string("; see modpop3d -M for the known keys")
                                         : "; did you mean '" + fix + "'?"));
            continue;
        }
        auto seen = eff.where.find(entry.key);
        if (seen != eff.where.end() && (spec->flags & MODPOP3D_CONFF_MULTI) == 0) {
            diags.error(entry.where, "'" + entry.key + "' is set twice in " + where_name +
                                         " (first at " + seen->second.str() +
                                         "); remove one of them");
            continue;
        }
        int64_t number = 0;
        std::string why;
        if (!check_value(*spec, entry.value, number, why)) {
            diags.error(entry.where, where_name + " " + entry.key + ": " + why);
            continue;
        }
        if (seen != eff.where.end()) {
            eff.values[entry.key] += " " + entry.value;
        } else {
            eff.values[entry.key] = entry.value;
            eff.where[entry.key] = entry.where;
            eff.numbers[entry.key] = number;
        }
    }
    for (const auto &spec : schema) {
        if (eff.values.count(spec.key) != 0)
            continue;
        if (spec.default_value) {
            int64_t number = 0;
            std::string why;
            if (check_value(spec, *spec.default_value, number, why)) {
                eff.values[spec.key] = *spec.default_value;
                eff.numbers[spec.key] = number;
            } else {
                diags.error(section.where, where_name + ": the default of '" + spec.key +
                                               "' is invalid (" + why + "): a module bug");
            }
        } else if (spec.flags & MODPOP3D_CONFF_REQUIRED) {
            diags.error(section.where, where_name + " needs '" + spec.key + "' (" + spec.help +
                                           "); add a line '" + spec.key + ": VALUE'");
        }
    }
    return eff;
}

} // namespace modpop3d::config
