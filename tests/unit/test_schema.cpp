// test_schema.cpp - typed keys: values, defaults, errors with the fix.
#include "config/core_config.hpp"
#include "config/schema.hpp"
#include "util/words.hpp"

#include <gtest/gtest.h>
#include <modpop3d/module.h>

using namespace modpop3d::config;

namespace
{

Schema sample()
{
    Schema s(6);
    s[0].key = "workers";
    s[0].type = MODPOP3D_CONF_INT;
    s[0].default_value = "4";
    s[0].min = 1;
    s[0].max = 64;
    s[1].key = "enabled";
    s[1].type = MODPOP3D_CONF_BOOL;
    s[1].default_value = "no";
    s[2].key = "mode";
    s[2].type = MODPOP3D_CONF_ENUM;
    s[2].choices = "fast|safe";
    s[2].default_value = "safe";
    s[3].key = "uri";
    s[3].type = MODPOP3D_CONF_STRING;
    s[3].flags = MODPOP3D_CONFF_REQUIRED;
    s[3].help = "where the server is";
    s[4].key = "host";
    s[4].type = MODPOP3D_CONF_LIST;
    s[4].flags = MODPOP3D_CONFF_MULTI;
    s[5].key = "path";
    s[5].type = MODPOP3D_CONF_TEMPLATE;
    s[5].default_value = "/var/mail/$(user)";
    return s;
}

// value - an effective value, failing the test (not crashing) when unset.
std::string value(const Effective &e, const std::string &key)
{
    const std::string *v = e.get(key);
    EXPECT_NE(v, nullptr) << key;
    return v ? *v : std::string();
}

Section section(std::vector<std::pair<std::string, std::string>> kv)
{
    Section s;
    s.module = "auth_x";
    s.where = Location{"f.conf", 1};
    int line = 2;
    for (auto &[k, v] : kv)
        s.entries.push_back(Entry{k, v, Location{"f.conf", line++}});
    return s;
}

} // namespace

TEST(Schema, DefaultsAndTypedValues)
{
    Diagnostics d;
    auto s = section({{"uri", "ldap://x"}, {"enabled", "on"}, {"host", "a b"}, {"host", "c"}});
    auto e = check_section(s, sample(), d);
    ASSERT_TRUE(d.empty()) << d.lines().front();
    EXPECT_EQ(value(e, "workers"), "4");
    EXPECT_EQ(e.numbers["workers"], 4);
    EXPECT_EQ(e.numbers["enabled"], 1);
    EXPECT_EQ(value(e, "mode"), "safe");
    EXPECT_EQ(value(e, "host"), "a b c");
    EXPECT_EQ(modpop3d::util::split_words(value(e, "host")),
              (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(e.location_of("enabled").str(), "f.conf:3");
}

TEST(Schema, ErrorsSayWhatIsWrongAndTheFix)
{
    Diagnostics d;
    auto s = section({{"workerz", "3"},
                      {"workers", "100"},
                      {"enabled", "maybe"},
                      {"mode", "fast|safe"},
                      {"path", "/x/$(usr)"},
                      {"mode", "fast"}});
    check_section(s, sample(), d);
    ASSERT_EQ(d.size(), 6u);
    EXPECT_EQ(d.lines()[0], "f.conf:2: unknown key 'workerz' in [auth_x]; did you mean 'workers'?");
    EXPECT_EQ(d.lines()[1], "f.conf:3: [auth_x] workers: '100' is out of range (1 to 64)");
    EXPECT_EQ(d.lines()[2], "f.conf:4: [auth_x] enabled: 'maybe' is not yes or no");
    EXPECT_EQ(d.lines()[3], "f.conf:5: [auth_x] mode: 'fast|safe' is not one of: fast|safe");
    EXPECT_NE(d.lines()[4].find("f.conf:6: [auth_x] path: unknown variable $(usr)"),
              std::string::npos);
    // The duplicate 'mode' is not reported because the first one was invalid;
    // the missing required key is reported at the section header.
    EXPECT_EQ(d.lines()[5].substr(0, 28), "f.conf:1: [auth_x] needs 'ur");
}

TEST(Schema, RequiredAndDuplicateKeys)
{
    Diagnostics d;
    check_section(section({{"enabled", "yes"}, {"enabled", "no"}}), sample(), d);
    ASSERT_EQ(d.size(), 2u);
    EXPECT_EQ(d.lines()[0], "f.conf:3: 'enabled' is set twice in [auth_x] (first at f.conf:2); "
                            "remove one of them");
    EXPECT_EQ(d.lines()[1], "f.conf:1: [auth_x] needs 'uri' (where the server is); add a line "
                            "'uri: VALUE'");
}

TEST(Schema, SizesAndDurations)
{
    int64_t v = 0;
    std::string why;
    EXPECT_TRUE(parse_size("64k", v, why));
    EXPECT_EQ(v, 65536);
    EXPECT_TRUE(parse_size("10M", v, why));
    EXPECT_EQ(v, 10 * 1024 * 1024);
    EXPECT_FALSE(parse_size("10X", v, why));
    EXPECT_NE(why.find("unknown unit 'X'"), std::string::npos);
    EXPECT_FALSE(parse_size("-1", v, why));
    EXPECT_FALSE(parse_size("99999999999999999999", v, why));
    EXPECT_TRUE(parse_duration_ms("30", v, why));
    EXPECT_EQ(v, 30000);
    EXPECT_TRUE(parse_duration_ms("500ms", v, why));
    EXPECT_EQ(v, 500);
    EXPECT_TRUE(parse_duration_ms("10m", v, why));
    EXPECT_EQ(v, 600000);
    EXPECT_TRUE(parse_duration_ms("1d", v, why));
    EXPECT_EQ(v, 86400000);
    EXPECT_FALSE(parse_duration_ms("", v, why));
    EXPECT_FALSE(parse_int("12a", v, why));
    EXPECT_FALSE(parse_int("4294967297x", v, why));
}

TEST(Schema, CoreConfigurationRejectsUnknownKeysAndBadValues)
{
    Diagnostics d;
    Configuration c;
    EXPECT_FALSE(configuration_from_text("listen: 127.0.0.1:1110\nlisten: [::1]:1110\n"
                                         "timeout-idle: 1m\nlog-levle: debug\n",
                                         "m.conf", c, d));
    ASSERT_EQ(d.size(), 2u);
    EXPECT_NE(d.lines()[0].find("m.conf:3: global section timeout-idle: '1m' is out of range"),
              std::string::npos);
    EXPECT_NE(d.lines()[1].find(
                  "m.conf:4: unknown key 'log-levle' in global section; did you mean 'log-level'?"),
              std::string::npos)
        << d.lines()[1];
}

TEST(Schema, CoreConfigurationDefaults)
{
    Diagnostics d;
    Configuration c;
    ASSERT_TRUE(
        configuration_from_text("listen: 127.0.0.1:1110\nlisten: [::1]:1110\n", "m.conf", c, d));
    EXPECT_EQ(c.core.listen, (std::vector<std::string>{"127.0.0.1:1110", "[::1]:1110"}));
    EXPECT_EQ(c.core.timeout_idle_ms, 600000);
    EXPECT_EQ(c.core.max_bad_commands, 10);
    EXPECT_EQ(c.core.plaintext_auth, "tls-or-loopback");
    EXPECT_FALSE(c.core.apop);
}

TEST(Schema, WorkerHeapRetainIsASizeUpToOneGigabyte)
{
    Diagnostics d;
    Configuration c;
    ASSERT_TRUE(configuration_from_text("listen: 127.0.0.1:1110\n", "h.conf", c, d));
    EXPECT_EQ(c.core.worker_heap_retain, int64_t(32) << 20); // the default
    ASSERT_TRUE(
        configuration_from_text("listen: 127.0.0.1:1110\nworker-heap-retain: 0\n", "h.conf", c, d));
    EXPECT_EQ(c.core.worker_heap_retain, 0);
    ASSERT_TRUE(configuration_from_text("listen: 127.0.0.1:1110\nworker-heap-retain: 256M\n",
                                        "h.conf", c, d));
    EXPECT_EQ(c.core.worker_heap_retain, int64_t(256) << 20);
    Diagnostics bad;
    EXPECT_FALSE(configuration_from_text("listen: 127.0.0.1:1110\nworker-heap-retain: 2G\n",
                                         "h.conf", c, bad));
    ASSERT_EQ(bad.size(), 1u);
    EXPECT_NE(bad.lines()[0].find("h.conf:2: global section worker-heap-retain: '2G' is out of "
                                  "range"),
              std::string::npos)
        << bad.lines()[0];
}
