// test_expand.cpp - the $(user) template expander and its sanitising.
#include "modload/host_services.hpp"
#include "util/expand.hpp"

#include <cstring>
#include <gtest/gtest.h>

using modpop3d::modload::expand_for_session;

namespace
{

std::string expand(const std::string &tmpl, const std::string &user,
                   modpop3d_escape_fn escape = nullptr, int32_t *rc_out = nullptr,
                   std::string *error = nullptr)
{
    modpop3d_session s;
    s.set("user", user);
    s.set("home", "/home/vmail/" + std::string(user.size() > 0 ? "x" : ""));
    s.set("client_ip", "192.0.2.7");
    std::string out;
    int32_t rc = expand_for_session(s, tmpl, escape, nullptr, out, error);
    if (rc_out)
        *rc_out = rc;
    return rc == MODPOP3D_OK ? out : "<error>";
}

// sql_escape - doubles single quotes, as auth_mysql's callback would.
size_t sql_escape(void *, const char *in, size_t inlen, char *out, size_t outlen)
{
    size_t need = 0;
    for (size_t i = 0; i < inlen; ++i) {
        size_t n = in[i] == '\'' ? 2 : 1;
        if (need + n <= outlen) {
            out[need] = in[i];
            if (n == 2)
                out[need + 1] = '\'';
        }
        need += n;
    }
    return need;
}

} // namespace

TEST(Expand, Variables)
{
    EXPECT_EQ(expand("/var/mail/$(user)", "alice"), "/var/mail/alice");
    EXPECT_EQ(expand("$(domain)/$(local_part)", "bob@example.org"), "example.org/bob");
    EXPECT_EQ(expand("$(local_part)", "bob"), "bob");
    EXPECT_EQ(expand("/spool/$(user[0])/$(user[1])/$(user)", "carol"), "/spool/c/a/carol");
    EXPECT_EQ(expand("$(user[-1])$(user[-2])", "carol"), "lo");
    EXPECT_EQ(expand("from $(client_ip) costs $$5", "x"), "from 192.0.2.7 costs $5");
    EXPECT_EQ(expand("$(home)", "x"), "/home/vmail/x"); // trusted: may contain '/'
}

TEST(Expand, ClientValuesAreSanitised)
{
    for (const std::string &user :
         std::vector<std::string>{"../etc", "a/b", "..", std::string("a\0b", 3), "a\nb", "a\x7f"}) {
        int32_t rc = 0;
        std::string why;
        EXPECT_EQ(expand("/var/mail/$(user)", user, nullptr, &rc, &why), "<error>") << user;
        EXPECT_EQ(rc, MODPOP3D_E_INVAL);
        EXPECT_NE(why.find("unsafe"), std::string::npos);
    }
    // The same values are fine in a template that does not use them.
    EXPECT_EQ(expand("/fixed", "../etc"), "/fixed");
}

TEST(Expand, SyntaxErrors)
{
    std::string why;
    int32_t rc = 0;
    EXPECT_EQ(expand("$(nosuch)", "a", nullptr, &rc, &why), "<error>");
    EXPECT_NE(why.find("unknown variable $(nosuch)"), std::string::npos);
    EXPECT_EQ(expand("$(user", "a", nullptr, &rc, &why), "<error>");
    EXPECT_EQ(why, "unterminated $(");
    EXPECT_EQ(expand("cost $5", "a", nullptr, &rc, &why), "<error>");
    EXPECT_EQ(expand("$(user[9])", "abc", nullptr, &rc, &why), "<error>");
    EXPECT_NE(why.find("out of range"), std::string::npos);
    EXPECT_EQ(expand("$(user[x])", "abc", nullptr, &rc, &why), "<error>");
    EXPECT_EQ(expand("$(domain)", "nodomain", nullptr, &rc, &why), "<error>");
    EXPECT_TRUE(modpop3d::util::check_template("/a/$(user[-1])/$(home)", why));
    EXPECT_FALSE(modpop3d::util::check_template("/a/$(uid)", why));
}

TEST(Expand, EscapeCallbackAppliesToEveryValue)
{
    EXPECT_EQ(expand("SELECT * WHERE u='$(user)'", "o'brien", sql_escape),
              "SELECT * WHERE u='o''brien'");
    std::string long_quotes(200, '\'');
    EXPECT_EQ(expand("$(user)", long_quotes, sql_escape), std::string(400, '\''));
}

TEST(Expand, HostServiceReportsBufferSize)
{
    const modpop3d_host *host = modpop3d::modload::host_table();
    modpop3d_session s;
    s.set("user", "alice");
    char small[8];
    size_t need = 0;
    EXPECT_EQ(host->expand(&s, "/var/mail/$(user)", nullptr, nullptr, small, sizeof small, &need),
              MODPOP3D_E_NOMEM);
    EXPECT_EQ(need, std::strlen("/var/mail/alice"));
    char big[64];
    EXPECT_EQ(host->expand(&s, "/var/mail/$(user)", nullptr, nullptr, big, sizeof big, &need),
              MODPOP3D_OK);
    EXPECT_STREQ(big, "/var/mail/alice");
}
