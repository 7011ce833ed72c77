// test_ldap_entry.cpp - auth_ldap's attribute mapping, stored-password
// schemes, and the configuration rules that need no host (cleartext rule,
// the service password file).
#include "ldap_config.hpp"
#include "ldap_entry.hpp"

#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace modpop3d::ldap;

namespace
{

AttrMap full_map()
{
    AttrMap m;
    m.mailbox = "mailMessageStore";
    m.mailbox_type = "mailboxType";
    m.home = "homeDirectory";
    m.uid = "uidNumber";
    m.gid = "gidNumber";
    m.login_delay = "popLoginDelay";
    m.expire = "popExpire";
    m.password = "userPassword";
    return m;
}

} // namespace

TEST(Attributes, EachMappedNameOnceAndPasswordOnlyWhenAsked)
{
    AttrMap m = full_map();
    m.home = "UIDNUMBER"; // the same attribute in another case
    const auto without = attributes(m, false);
    EXPECT_EQ(without, (std::vector<std::string>{"mailMessageStore", "mailboxType", "UIDNUMBER",
                                                 "gidNumber", "popLoginDelay", "popExpire"}));
    const auto with = attributes(m, true);
    EXPECT_EQ(with.back(), "userPassword");
    EXPECT_TRUE(attributes(AttrMap{}, false).empty());
}

TEST(MapEntry, EveryFactFromTheEntry)
{
    Entry e;
    e.dn = "uid=alice,ou=people,dc=example,dc=org";
    e.add("MailMessageStore", "/srv/mail/alice/");
    e.add("uidnumber", "2001");
    e.add("gidNumber", "2000");
    e.add("homeDirectory", "/home/alice");
    e.add("popLoginDelay", "300");
    e.add("popExpire", "NEVER");
    Mapped m;
    std::string error;
    ASSERT_TRUE(map_entry(e, full_map(), m, error)) << error;
    EXPECT_EQ(m.mailbox, "maildir:/srv/mail/alice/");
    EXPECT_EQ(m.uid, "2001");
    EXPECT_EQ(m.gid, "2000");
    EXPECT_EQ(m.home, "/home/alice");
    EXPECT_EQ(m.login_delay, "300");
    EXPECT_EQ(m.expire, "never");
}

TEST(MapEntry, AbsentAttributesStayUnset)
{
    Entry e;
    e.dn = "uid=bob,dc=example,dc=org";
    Mapped m;
    std::string error;
    ASSERT_TRUE(map_entry(e, full_map(), m, error));
    EXPECT_FALSE(m.mailbox || m.uid || m.gid || m.home || m.login_delay || m.expire);
}

TEST(MapEntry, UnusableValuesAreRefusedNamingTheAttribute)
{
    const std::pair<const char *, const char *> bad[] = {
        {"popLoginDelay", "soon"},          {"popLoginDelay", "-1"},   {"popExpire", "1e3"},
        {"homeDirectory", "rel/dir"},       {"homeDirectory", "/a b"}, {"mailMessageStore", "x"},
        {"mailMessageStore", "/a $(home)"}, {"uidNumber", "1 2"},      {"gidNumber", ""},
    };
    for (const auto &[attr, value] : bad) {
        Entry e;
        e.add(attr, value);
        Mapped m;
        std::string error;
        EXPECT_FALSE(map_entry(e, full_map(), m, error)) << attr << "=" << value;
        EXPECT_NE(error.find(attr), std::string::npos) << error;
    }
}

TEST(MailboxSpec, Tpop3dTypeRules)
{
    const std::string maildir = "MAILDIR";
    EXPECT_EQ(mailbox_spec("/var/mail/alice", nullptr), "bsd:/var/mail/alice");
    EXPECT_EQ(mailbox_spec("/srv/alice/Maildir/", nullptr), "maildir:/srv/alice/Maildir/");
    EXPECT_EQ(mailbox_spec("/srv/alice/box", &maildir), "maildir:/srv/alice/box");
    EXPECT_EQ(mailbox_spec("empty:/", nullptr), "empty:/");
    EXPECT_EQ(mailbox_spec("mbox:/var/mail/a", &maildir), "mbox:/var/mail/a");
    EXPECT_FALSE(mailbox_spec("relative/path", nullptr));
    EXPECT_FALSE(mailbox_spec("/two words", nullptr));
    EXPECT_FALSE(mailbox_spec("/tab\there", nullptr));
    EXPECT_FALSE(mailbox_spec("BAD TYPE:/x", nullptr));
    const std::string evil = "../x";
    EXPECT_FALSE(mailbox_spec("/x", &evil));
}

TEST(StoredPassword, SchemeRules)
{
    EXPECT_EQ(with_scheme("secret", "PLAIN"), "{PLAIN}secret");
    EXPECT_EQ(with_scheme("{SHA}abc=", "PLAIN"), "{SHA}abc=");
    EXPECT_EQ(with_scheme("{CRYPT}$6$x$y", "PLAIN"), "{CRYPT}$6$x$y");
    EXPECT_EQ(with_scheme("$6$x$y", "CRYPT"), "{CRYPT}$6$x$y");
    EXPECT_EQ(with_scheme("{no-close", "PLAIN"), "{PLAIN}{no-close");
    EXPECT_EQ(credential_for("{PLAIN}pw", "PLAIN"), "{PLAIN}pw");
    EXPECT_EQ(credential_for("{cleartext}pw", "PLAIN"), "{PLAIN}pw");
    EXPECT_EQ(credential_for("{PLAINTEXT}pw", "PLAIN"), "{PLAIN}pw");
    EXPECT_FALSE(credential_for("{SHA}abc=", "PLAIN"));
    EXPECT_FALSE(credential_for("{PLAIN}", "PLAIN")); // no password set
    EXPECT_EQ(credential_for("{scram-sha-256}4096:s:k:k", "SCRAM-SHA-256"),
              "{SCRAM-SHA-256}4096:s:k:k");
    EXPECT_FALSE(credential_for("{PLAIN}pw", "SCRAM-SHA-256"));
    EXPECT_FALSE(credential_for("{PLAIN}pw", "CRAM-MD5"));
}

TEST(Cleartext, LocalUris)
{
    EXPECT_TRUE(is_local_uri("ldapi://%2Frun%2Fslapd%2Fldapi"));
    EXPECT_TRUE(is_local_uri("ldap://127.0.0.1:3890"));
    EXPECT_TRUE(is_local_uri("ldap://127.1.2.3"));
    EXPECT_TRUE(is_local_uri("ldap://localhost/dc=example,dc=org"));
    EXPECT_TRUE(is_local_uri("ldap://[::1]:389"));
    EXPECT_FALSE(is_local_uri("ldap://ldap.example.org"));
    EXPECT_FALSE(is_local_uri("ldap://10.0.0.1:389"));
    EXPECT_FALSE(is_local_uri("ldap://127.example.org")); // a name, not 127/8
    EXPECT_FALSE(is_local_uri("not a uri"));
}

TEST(SecretFile, OwnerOnlyFirstLine)
{
    char dir[] = "/tmp/auth_ldap_unit.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string path = std::string(dir) + "/pw";
    {
        std::ofstream(path) << "s3cret\nsecond line\n";
    }
    std::string out, error;
    chmod(path.c_str(), 0644);
    EXPECT_FALSE(read_secret_file(path, out, error));
    EXPECT_NE(error.find("chmod 600"), std::string::npos) << error;
    EXPECT_EQ(error.find("s3cret"), std::string::npos);
    chmod(path.c_str(), 0600);
    ASSERT_TRUE(read_secret_file(path, out, error)) << error;
    EXPECT_EQ(out, "s3cret");
    {
        std::ofstream(path) << "\n";
    }
    EXPECT_FALSE(read_secret_file(path, out, error));
    EXPECT_NE(error.find("empty"), std::string::npos);
    const std::string link = std::string(dir) + "/link";
    ASSERT_EQ(symlink(path.c_str(), link.c_str()), 0);
    EXPECT_FALSE(read_secret_file(link, out, error)); // O_NOFOLLOW
    EXPECT_FALSE(read_secret_file(std::string(dir) + "/missing", out, error));
    unlink(link.c_str());
    unlink(path.c_str());
    rmdir(dir);
}
