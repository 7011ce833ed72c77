// expand.cpp - implementation of the $(var) template expander.
#include "util/expand.hpp"

#include <array>
#include <charconv>

namespace modpop3d::util
{

namespace
{

constexpr std::array<std::string_view, 6> known_variables{"user", "local_part", "domain",
                                                          "home", "client_ip",  "local_ip"};

bool is_known(std::string_view name)
{
    for (auto v : known_variables)
        if (v == name)
            return true;
    return false;
}

struct VarRef {
    std::string_view name;
    bool indexed = false;
    long index = 0;
};

// parse_ref - split "user[-1]" into name and index.
bool parse_ref(std::string_view body, VarRef &ref, std::string &error)
{
    auto bracket = body.find('[');
    if (bracket == std::string_view::npos) {
        ref.name = body;
    } else {
        if (body.back() != ']') {
            error = "unterminated index in $(" + std::string(body) + ")";
            return false;
        }
        ref.name = body.substr(0, bracket);
        std::string_view digits = body.substr(bracket + 1, body.size() - bracket - 2);
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ref.index);
        if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty()) {
            error = "bad index in $(" + std::string(body) + ")";
            return false;
        }
        ref.indexed = true;
    }
    if (!is_known(ref.name)) {
        error = "unknown variable $(" + std::string(ref.name) +
                "); known: user local_part domain home client_ip local_ip";
        return false;
    }
    return true;
}

// walk - the one parser behind expansion and checking; `emit` receives
// literal text and variable references in order.
template <typename Literal, typename Variable>
bool walk(std::string_view tmpl, std::string &error, Literal literal, Variable variable)
{
    std::size_t i = 0;
    while (i < tmpl.size()) {
        auto dollar = tmpl.find('$', i);
        if (dollar == std::string_view::npos) {
            literal(tmpl.substr(i));
            break;
        }
        literal(tmpl.substr(i, dollar - i));
        if (dollar + 1 < tmpl.size() && tmpl[dollar + 1] == '$') {
            literal("$");
            i = dollar + 2;
            continue;
        }
        if (dollar + 1 >= tmpl.size() || tmpl[dollar + 1] != '(') {
            error = "'$' must start $(variable) or be written $$";
            return false;
        }
        auto close = tmpl.find(')', dollar + 2);
        if (close == std::string_view::npos) {
            error = "unterminated $(";
            return false;
        }
        VarRef ref;
        if (!parse_ref(tmpl.substr(dollar + 2, close - dollar - 2), ref, error))
            return false;
        if (!variable(ref))
            return false;
        i = close + 1;
    }
    return true;
}

void append_escaped(std::string &out, std::string_view value, modpop3d_escape_fn escape, void *ctx)
{
    if (escape == nullptr) {
        out += value;
        return;
    }
    std::string buf(value.size() * 2 + 16, '\0');
    std::size_t need = escape(ctx, value.data(), value.size(), buf.data(), buf.size());
    if (need > buf.size()) {
        buf.resize(need);
        need = escape(ctx, value.data(), value.size(), buf.data(), buf.size());
    }
    out.append(buf.data(), need < buf.size() ? need : buf.size());
}

} // namespace

bool is_safe_client_value(std::string_view value)
{
    if (value.empty() || value.find("..") != std::string_view::npos)
        return false;
    for (unsigned char c : value)
        if (c == '/' || c < 0x20 || c == 0x7f)
            return false;
    return true;
}

bool is_client_variable(std::string_view name)
{
    return name == "user" || name == "local_part" || name == "domain";
}

int32_t expand_template(std::string_view tmpl, const FactLookup &lookup, modpop3d_escape_fn escape,
                        void *escape_ctx, std::string &out, std::string *error)
{
    std::string err;
    std::string result;
    bool ok = walk(
        tmpl, err, [&](std::string_view text) { result += text; },
        [&](const VarRef &ref) {
            std::string value;
            if (!lookup(ref.name, value)) {
                err = "$(" + std::string(ref.name) + ") has no value in this context";
                return false;
            }
            if (is_client_variable(ref.name) && !is_safe_client_value(value)) {
                err = "unsafe characters in the value of $(" + std::string(ref.name) + ")";
                return false;
            }
            if (ref.indexed) {
                long n = static_cast<long>(value.size());
                long at = ref.index < 0 ? n + ref.index : ref.index;
                if (at < 0 || at >= n) {
                    err = "$(" + std::string(ref.name) + "[" + std::to_string(ref.index) +
                          "]) is out of range";
                    return false;
                }
                value = value.substr(static_cast<std::size_t>(at), 1);
            }
            append_escaped(result, value, escape, escape_ctx);
            return true;
        });
    if (!ok) {
        if (error != nullptr)
            *error = err;
        return MODPOP3D_E_INVAL;
    }
    out = std::move(result);
    return MODPOP3D_OK;
}

bool check_template(std::string_view tmpl, std::string &error)
{
    return walk(
        tmpl, error, [](std::string_view) {}, [](const VarRef &) { return true; });
}

} // namespace modpop3d::util
