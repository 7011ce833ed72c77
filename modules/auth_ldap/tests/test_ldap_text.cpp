// test_ldap_text.cpp - RFC 4515 filter escaping, RFC 4514 DN escaping and
// the filter/base templates of auth_ldap.
#include "ldap_text.hpp"

#include <gtest/gtest.h>
#include <string>

using namespace modpop3d::ldap;

TEST(FilterEscape, LeavesOrdinaryNamesAlone)
{
    EXPECT_EQ(filter_escape("alice"), "alice");
    EXPECT_EQ(filter_escape("alice.smith-2@example.org"), "alice.smith-2@example.org");
}

TEST(FilterEscape, EscapesTheFourSpecialsAndNul)
{
    EXPECT_EQ(filter_escape("*"), "\\2a");
    EXPECT_EQ(filter_escape("("), "\\28");
    EXPECT_EQ(filter_escape(")"), "\\29");
    EXPECT_EQ(filter_escape("\\"), "\\5c");
    EXPECT_EQ(filter_escape(std::string("a\0b", 3)), "a\\00b");
}

TEST(FilterEscape, InjectionsBecomeLiteralValues)
{
    EXPECT_EQ(filter_escape(")(uid=*"), "\\29\\28uid=\\2a");
    EXPECT_EQ(filter_escape("*)(|(uid=*))"), "\\2a\\29\\28|\\28uid=\\2a\\29\\29");
    EXPECT_EQ(filter_escape("a\\2a"), "a\\5c2a"); // an escape typed by the client stays text
}

TEST(FilterEscape, EscapesControlsDelAndEveryNonAsciiByte)
{
    EXPECT_EQ(filter_escape("\x01\x1f\x7f"), "\\01\\1f\\7f");
    EXPECT_EQ(filter_escape("j\xc3\xb6rg"), "j\\c3\\b6rg"); // UTF-8 "jörg"
    EXPECT_EQ(filter_escape("\xff\xfe"), "\\ff\\fe");       // not UTF-8 at all
}

TEST(DnEscape, EscapesRfc4514Specials)
{
    EXPECT_EQ(dn_escape("example.org"), "example.org");
    EXPECT_EQ(dn_escape("a,b+c\"d\\e<f>g;h=i"), "a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h\\=i");
    EXPECT_EQ(dn_escape(" lead"), "\\ lead");
    EXPECT_EQ(dn_escape("#hash"), "\\#hash");
    EXPECT_EQ(dn_escape("trail "), "trail\\ ");
    EXPECT_EQ(dn_escape("mid dle"), "mid dle");
    EXPECT_EQ(dn_escape(std::string("x\0y", 3)), "x\\00y");
    EXPECT_EQ(dn_escape("\xc3\xa9"), "\\c3\\a9");
}

TEST(Vars, SplitsAtTheLastAt)
{
    Vars v = vars_for("alice@example.org", nullptr, nullptr);
    EXPECT_EQ(v.user, "alice@example.org");
    EXPECT_EQ(v.local_part, "alice");
    EXPECT_EQ(v.domain, "example.org");
    EXPECT_TRUE(v.has_domain);
    v = vars_for("a@b@c.org", nullptr, nullptr);
    EXPECT_EQ(v.local_part, "a@b");
    EXPECT_EQ(v.domain, "c.org");
    v = vars_for("bare", nullptr, "");
    EXPECT_EQ(v.local_part, "bare");
    EXPECT_FALSE(v.has_domain);
    v = vars_for("trailing@", nullptr, nullptr);
    EXPECT_FALSE(v.has_domain);
}

TEST(Vars, SessionFactsWin)
{
    const Vars v = vars_for("alice", "alice", "listener.example");
    EXPECT_EQ(v.domain, "listener.example");
    EXPECT_TRUE(v.has_domain);
}

TEST(Template, SubstitutesAndEscapesForFilters)
{
    std::string out;
    const Vars v = vars_for("a*)(uid=*@ex(ample).org", nullptr, nullptr);
    ASSERT_EQ(expand("(&(uid=$(local_part))(dc=$(domain)))", v, Escape::filter, out), Expanded::ok);
    EXPECT_EQ(out, "(&(uid=a\\2a\\29\\28uid=\\2a)(dc=ex\\28ample\\29.org))");
    ASSERT_EQ(expand("(mail=$(user))", v, Escape::filter, out), Expanded::ok);
    EXPECT_EQ(out, "(mail=a\\2a\\29\\28uid=\\2a@ex\\28ample\\29.org)");
}

TEST(Template, SubstitutesAndEscapesForDns)
{
    std::string out;
    const Vars v = vars_for("bob@evil,dc=org", nullptr, nullptr);
    ASSERT_EQ(expand("ou=$(domain),dc=example,dc=org", v, Escape::dn, out), Expanded::ok);
    EXPECT_EQ(out, "ou=evil\\,dc\\=org,dc=example,dc=org");
}

TEST(Template, DollarDollarAndNoDomain)
{
    std::string out;
    ASSERT_EQ(expand("(cost=$$5)", vars_for("x", nullptr, nullptr), Escape::filter, out),
              Expanded::ok);
    EXPECT_EQ(out, "(cost=$5)");
    EXPECT_EQ(expand("(mail=$(local_part)@$(domain))", vars_for("bare", nullptr, nullptr),
                     Escape::filter, out),
              Expanded::no_domain);
    // A template without $(domain) works for a bare name.
    ASSERT_EQ(expand("(uid=$(user))", vars_for("bare", nullptr, nullptr), Escape::filter, out),
              Expanded::ok);
    EXPECT_EQ(out, "(uid=bare)");
}

TEST(Template, CheckRefusesUnknownVariablesAndStrayDollars)
{
    EXPECT_EQ(check_template("(uid=$(user))"), "");
    EXPECT_EQ(check_template("(&(uid=$(local_part))(o=$(domain)))$$"), "");
    EXPECT_NE(check_template("(uid=$(home))"), "");
    EXPECT_EQ(check_template("(uid=$(user)"), ""); // a template; filter checks are elsewhere
    EXPECT_NE(check_template("(uid=$user)"), "");
    EXPECT_NE(check_template("(uid=$(user"), "");
    EXPECT_TRUE(uses_variable("(mail=$(local_part)@$(domain))", "domain"));
    EXPECT_FALSE(uses_variable("(uid=$(user))", "domain"));
    EXPECT_FALSE(uses_variable("(uid=$$(domain))", "domain"));
}
