// tls_setup.cpp - TLS contexts for listeners (see tls_setup.hpp).
#include "tls/tls_setup.hpp"

namespace modpop3d::daemon
{

bool build_tls_context(const config::CoreSettings &settings, const address::ListenSpec &spec,
                       std::shared_ptr<tls::Context> &out, std::string &why,
                       std::vector<std::string> &warnings)
{
    out.reset();
    const auto &o = spec.options;
    if (o.tls == address::TlsMode::none || o.tls == address::TlsMode::unset)
        return true;
    tls::ContextSettings cs;
    if (!o.certificate.empty())
        cs.main = tls::CertificateFiles{o.certificate, o.key, o.chain};
    else
        cs.main = tls::CertificateFiles{settings.tls_certificate, settings.tls_key,
                                        o.chain.empty() ? settings.tls_chain : o.chain};
    for (const auto &value : settings.tls_sni)
        cs.sni.push_back(tls::parse_sni(value));
    cs.min_version = settings.tls_min_version;
    cs.legacy = o.tls_legacy;
    cs.ciphers = settings.tls_ciphers;
    cs.ciphersuites = settings.tls_ciphersuites;
    cs.session_tickets = settings.tls_session_tickets;
    std::unique_ptr<tls::Context> ctx = tls::Context::create(cs, why, warnings);
    if (!ctx) {
        why = "listener " + spec.text + ": " + why;
        return false;
    }
    out = std::move(ctx);
    return true;
}

bool check_tls(const config::CoreSettings &settings, std::string &why,
               std::vector<std::string> &warnings)
{
    for (const auto &spec : settings.listeners) {
        std::shared_ptr<tls::Context> ctx;
        if (!build_tls_context(settings, spec, ctx, why, warnings))
            return false;
    }
    return true;
}

} // namespace modpop3d::daemon
