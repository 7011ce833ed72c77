// capabilities.cpp - the CAPA list for one connection and state.
#include "pop3/capabilities.hpp"

#include "util/ascii.hpp"

namespace modpop3d::pop3
{

namespace
{

std::string expire_text(const Expire &e)
{
    return e.never ? std::string("NEVER") : std::to_string(e.days);
}

} // namespace

bool is_plaintext_mechanism(std::string_view mechanism) noexcept
{
    return util::iequals(mechanism, "PLAIN") || util::iequals(mechanism, "LOGIN");
}

std::vector<std::string> usable_mechanisms(const ConnectionFacts &facts)
{
    std::vector<std::string> out;
    for (const std::string &m : facts.sasl_mechanisms)
        if (facts.plaintext_allowed || !is_plaintext_mechanism(m))
            out.push_back(m);
    return out;
}

std::vector<std::string> capability_lines(const CapabilityConfig &config,
                                          const ConnectionFacts &facts, bool logged_in,
                                          const UserCapabilities &user)
{
    std::vector<std::string> lines;
    if (config.top)
        lines.emplace_back("TOP");
    if (config.uidl)
        lines.emplace_back("UIDL");
    if (facts.plaintext_allowed)
        lines.emplace_back("USER");
    const std::vector<std::string> mechs = usable_mechanisms(facts);
    if (!mechs.empty()) {
        std::string sasl = "SASL";
        for (const std::string &m : mechs)
            sasl += ' ' + m;
        lines.push_back(std::move(sasl));
    }
    if (!logged_in && facts.stls_available && !facts.tls_active)
        lines.emplace_back("STLS");
    if (config.resp_codes)
        lines.emplace_back("RESP-CODES");
    if (config.auth_resp_code)
        lines.emplace_back("AUTH-RESP-CODE");
    if (config.pipelining)
        lines.emplace_back("PIPELINING");
    if (config.login_delay) {
        if (logged_in)
            lines.push_back("LOGIN-DELAY " +
                            std::to_string(user.login_delay.value_or(*config.login_delay)));
        else
            lines.push_back("LOGIN-DELAY " + std::to_string(*config.login_delay) +
                            (config.login_delay_per_user ? " USER" : ""));
    }
    if (config.expire) {
        if (logged_in)
            lines.push_back("EXPIRE " + expire_text(user.expire.value_or(*config.expire)));
        else
            lines.push_back("EXPIRE " + expire_text(*config.expire) +
                            (config.expire_per_user ? " USER" : ""));
    }
    if (!config.implementation.empty() && (logged_in || config.implementation_pre_login))
        lines.push_back("IMPLEMENTATION " + config.implementation);
    return lines;
}

} // namespace modpop3d::pop3
