// sql_common_test.cpp - unit tests of the shared SQL helper's pure parts:
// template → parameterised statement (both dialects), tpop3d's result
// column order and the column aliases, secrets, mailbox specs, host lists
// and back-off.
#include "sql_columns.hpp"
#include "sql_hosts.hpp"
#include "sql_template.hpp"

#include <gtest/gtest.h>

namespace sql = modpop3d::sql;
using sql::Col;
using sql::Dialect;
using sql::Var;

namespace
{

sql::Query compiled(std::string_view t, Dialect d)
{
    sql::Query q;
    std::string why;
    EXPECT_TRUE(sql::compile(t, d, q, why)) << why;
    return q;
}

std::string refused(std::string_view t, Dialect d)
{
    sql::Query q;
    std::string why;
    EXPECT_FALSE(sql::compile(t, d, q, why)) << q.text;
    return why;
}

} // namespace

TEST(SqlTemplate, Tpop3dDefaultQueryMysql)
{
    auto q = compiled("SELECT concat(domain.path,'/',popbox.mbox_name), popbox.password_hash, "
                      "domain.unix_user, 'bsd' FROM popbox, domain WHERE "
                      "popbox.local_part='$(local_part)' AND popbox.domain_name='$(domain)' AND "
                      "popbox.domain_name=domain.domain_name",
                      Dialect::mysql);
    EXPECT_EQ(q.text, "SELECT concat(domain.path,'/',popbox.mbox_name), popbox.password_hash, "
                      "domain.unix_user, 'bsd' FROM popbox, domain WHERE "
                      "popbox.local_part=? AND popbox.domain_name=? AND "
                      "popbox.domain_name=domain.domain_name");
    EXPECT_EQ(q.params, (std::vector<Var>{Var::local_part, Var::domain}));
}

TEST(SqlTemplate, PgsqlNumbersMarkers)
{
    auto q = compiled("SELECT a FROM t WHERE u = '$(user)' AND c = $(clienthost) AND "
                      "s = '$(serverhost)'",
                      Dialect::pgsql);
    EXPECT_EQ(q.text, "SELECT a FROM t WHERE u = $1 AND c = $2 AND s = $3");
    EXPECT_EQ(q.params, (std::vector<Var>{Var::user, Var::clienthost, Var::serverhost}));
}

TEST(SqlTemplate, AliasesOfAddresses)
{
    auto q = compiled("x='$(client_ip)' y='$(local_ip)'", Dialect::mysql);
    EXPECT_EQ(q.params, (std::vector<Var>{Var::clienthost, Var::serverhost}));
}

TEST(SqlTemplate, MixedLiteralBecomesConcatenation)
{
    auto m = compiled("WHERE login = '$(local_part)@$(domain)'", Dialect::mysql);
    EXPECT_EQ(m.text, "WHERE login = CONCAT(?, '@', ?)");
    EXPECT_EQ(m.params, (std::vector<Var>{Var::local_part, Var::domain}));
    auto p = compiled("WHERE login = 'u:$(user)'", Dialect::pgsql);
    EXPECT_EQ(p.text, "WHERE login = ('u:' || CAST($1 AS text))");
}

TEST(SqlTemplate, LiteralsWithoutVariablesAreUntouched)
{
    auto q =
        compiled("SELECT 'it''s', \"a\\\"b\", `col` FROM t WHERE x = '$(user)'", Dialect::mysql);
    EXPECT_EQ(q.text, "SELECT 'it''s', \"a\\\"b\", `col` FROM t WHERE x = ?");
    // A '$(' that is not ours inside a pgsql quoted identifier is refused,
    // but one in plain text elsewhere is a variable.
    auto p = compiled("SELECT \"Col\" FROM t WHERE x = $(user)", Dialect::pgsql);
    EXPECT_EQ(p.text, "SELECT \"Col\" FROM t WHERE x = $1");
}

TEST(SqlTemplate, ValuesNeverReachTheText)
{
    // Whatever the template, the text holds markers only: no variable name
    // and no way for a value to be pasted.
    auto q = compiled("SELECT * FROM t WHERE a='$(user)' OR b=\"$(user)\"", Dialect::mysql);
    EXPECT_EQ(q.text.find("$("), std::string::npos);
    EXPECT_EQ(q.params.size(), 2u);
}

TEST(SqlTemplate, Refusals)
{
    EXPECT_NE(refused("WHERE u='$(password)'", Dialect::mysql).find("unknown variable"),
              std::string::npos);
    EXPECT_NE(refused("WHERE u='$(user)", Dialect::mysql).find("unterminated"), std::string::npos);
    EXPECT_NE(refused("WHERE u=?", Dialect::mysql).find("parameter marker"), std::string::npos);
    EXPECT_NE(refused("WHERE u=$1", Dialect::pgsql).find("$1-style"), std::string::npos);
    EXPECT_NE(refused("WHERE \"$(user)\" = 1", Dialect::pgsql).find("identifier"),
              std::string::npos);
    EXPECT_NE(refused("SELECT 1 -- $(user)", Dialect::pgsql).find("comment"), std::string::npos);
    EXPECT_NE(refused("   ", Dialect::pgsql).find("empty"), std::string::npos);
    // '?' inside a literal is just text.
    auto q = compiled("SELECT '?' FROM t WHERE u='$(user)'", Dialect::mysql);
    EXPECT_EQ(q.text, "SELECT '?' FROM t WHERE u=?");
}

TEST(SqlColumns, Tpop3dOrderByDefault)
{
    std::vector<Col> cols;
    std::string why;
    ASSERT_TRUE(
        sql::parse_columns({"mailbox", "password", "unix-user", "mailbox-type"}, cols, why));
    auto r = sql::map_row(cols, {"concat(...)", "password_hash", "unix_user", "bsd", "home", "x"},
                          {"/var/spool/mail/a", "{PLAIN}pw", "nobody", "bsd", "/home/a", "zz"});
    EXPECT_EQ(r.mailbox, "/var/spool/mail/a");
    EXPECT_EQ(r.password, "{PLAIN}pw");
    EXPECT_EQ(r.unix_user, "nobody");
    EXPECT_EQ(r.mailbox_type, "bsd");
    EXPECT_EQ(r.home, "/home/a"); // the fifth column by its name
    EXPECT_FALSE(r.uid);
}

TEST(SqlColumns, ByNameWithAliases)
{
    std::vector<Col> cols;
    std::string why;
    ASSERT_TRUE(sql::parse_columns({"names"}, cols, why));
    EXPECT_TRUE(cols.empty());
    auto r = sql::map_row(cols,
                          {"PASSWORD_HASH", "mbox-type", "Login-Delay", "expire", "scram_verifier",
                           "uid", "gid", "maildir"},
                          {"x", "maildir", "300", "30", "4096:s:a:b", "1001", std::nullopt, "/m/"});
    EXPECT_EQ(r.password, "x");
    EXPECT_EQ(r.mailbox_type, "maildir");
    EXPECT_EQ(r.login_delay, "300");
    EXPECT_EQ(r.expire, "30");
    EXPECT_EQ(r.scram, "4096:s:a:b");
    EXPECT_EQ(r.uid, "1001");
    EXPECT_FALSE(r.gid); // NULL stays unset
    EXPECT_EQ(r.mailbox, "/m/");
    EXPECT_FALSE(sql::parse_columns({"mailbox", "bogus"}, cols, why));
    EXPECT_NE(why.find("bogus"), std::string::npos);
}

TEST(SqlColumns, Secrets)
{
    EXPECT_EQ(sql::normalise_secret("5f4dcc3b5aa765d61d8327deb882cf99", "MD5"),
              "{MD5}5f4dcc3b5aa765d61d8327deb882cf99");
    EXPECT_EQ(sql::normalise_secret("{PLAIN}x", "MD5"), "{PLAIN}x");
    EXPECT_EQ(sql::normalise_secret("$6$salt$hash", "MD5"), "$6$salt$hash");
    EXPECT_EQ(sql::normalise_secret("!locked", "MD5"), "!locked");
    EXPECT_FALSE(sql::normalise_secret("", "MD5"));
}

TEST(SqlColumns, MailboxSpecs)
{
    bool bad = false;
    sql::Row r;
    r.mailbox = "/var/mail/a";
    EXPECT_EQ(sql::mailbox_spec(r, bad), "bsd:/var/mail/a");
    r.mailbox = "/srv/a/Maildir/";
    EXPECT_EQ(sql::mailbox_spec(r, bad), "maildir:/srv/a/Maildir/");
    r.mailbox_type = "MAILDIR";
    r.mailbox = "/srv/a/Maildir";
    EXPECT_EQ(sql::mailbox_spec(r, bad), "maildir:/srv/a/Maildir");
    r.mailbox = "";
    r.mailbox_type = "empty";
    EXPECT_EQ(sql::mailbox_spec(r, bad), "empty:");
    r.mailbox = "/a b";
    EXPECT_FALSE(sql::mailbox_spec(r, bad));
    EXPECT_TRUE(bad);
    sql::Row none;
    EXPECT_FALSE(sql::mailbox_spec(none, bad));
    EXPECT_FALSE(bad);
}

TEST(SqlHosts, Tpop3dFailoverList)
{
    std::vector<sql::Target> t;
    std::string why;
    ASSERT_TRUE(sql::parse_hosts("db1;db2:3307 [::1]:5432 /run/mysqld/mysqld.sock,::1", t, why))
        << why;
    ASSERT_EQ(t.size(), 5u);
    EXPECT_EQ(t[0].host, "db1");
    EXPECT_EQ(t[0].port, 0u);
    EXPECT_EQ(t[1].host, "db2");
    EXPECT_EQ(t[1].port, 3307u);
    EXPECT_EQ(t[2].host, "::1");
    EXPECT_EQ(t[2].port, 5432u);
    EXPECT_EQ(t[3].socket, "/run/mysqld/mysqld.sock");
    EXPECT_EQ(t[4].host, "::1");
    EXPECT_EQ(t[2].label(), "[::1]:5432");
    EXPECT_FALSE(sql::parse_hosts("db:0", t, why));
    EXPECT_FALSE(sql::parse_hosts("db:99999", t, why));
    EXPECT_FALSE(sql::parse_hosts(" ; ", t, why));
    EXPECT_FALSE(sql::parse_hosts("[::1", t, why));
}

TEST(SqlHosts, BackoffDoublesUpToTheCap)
{
    sql::Backoff b(100, 350);
    EXPECT_TRUE(b.usable(0));
    EXPECT_EQ(b.failed(1000), 100u);
    EXPECT_FALSE(b.usable(1099));
    EXPECT_TRUE(b.usable(1100));
    EXPECT_EQ(b.failed(2000), 200u);
    EXPECT_EQ(b.failed(3000), 350u);
    EXPECT_EQ(b.failed(4000), 350u);
    b.succeeded();
    EXPECT_TRUE(b.usable(4001));
    EXPECT_EQ(b.failed(5000), 100u);
}
