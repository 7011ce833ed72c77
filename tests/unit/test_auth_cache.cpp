// test_auth_cache.cpp - the positive auth cache (auth-cache-ttl): the cache
// on its own with explicit clocks (expiry, eviction, keying), and the auth
// chain with the real auth_test module, counting how often the chain had to
// ask the module.
#include "auth/auth_chain.hpp"
#include "config/parser.hpp"
#include "modload/host_services.hpp"
#include "modload/loader.hpp"
#include "modload/module_set.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <gtest/gtest.h>
#include <thread>
#include <unistd.h>

using namespace modpop3d;
using daemon::AuthAnswer;
using daemon::AuthCache;
using namespace std::chrono_literals;

namespace
{

AuthAnswer ok_answer(const std::string &user)
{
    AuthAnswer a;
    a.status = MODPOP3D_OK;
    a.instance = "auth_test";
    a.result = {{"user", user}, {"uid", "1000"}};
    return a;
}

// A ModuleSet configured from text, instantiated and initialised.
struct Chain {
    explicit Chain(const std::string &text)
    {
        const char *d = std::getenv("MODPOP3D_TEST_MODULE_DIR");
        loader = std::make_unique<modload::Loader>(d ? d : "");
        config::Diagnostics diags;
        auto parsed = config::parse_string(text, "test.conf", diags);
        bool ok = modules.configure(parsed, *loader, diags) && modules.instantiate(diags) &&
                  modules.process_init(diags);
        for (const auto &l : diags.lines())
            ADD_FAILURE() << l;
        EXPECT_TRUE(ok);
    }
    std::unique_ptr<modload::Loader> loader;
    modload::ModuleSet modules;
};

// The server sets the login name as the session's "user" fact before it
// asks the chain (auth_test's home template uses it).
modpop3d_session &as(modpop3d_session &s, const std::string &user)
{
    s.set("user", user);
    return s;
}

const char *slow_alice = "[auth_test]\nusers: alice:secret bob:hunter2\ntemp-users: temp\n"
                         "delay: 300ms\n";

} // namespace

TEST(AuthCache, OffByDefaultAndWithZeroTtl)
{
    AuthCache off(0, 10000);
    EXPECT_FALSE(off.enabled());
    off.store("alice", "secret", ok_answer("alice"));
    AuthAnswer a;
    EXPECT_FALSE(off.find("alice", "secret", a));
    EXPECT_EQ(off.size(), 0u);
}

TEST(AuthCache, HitsOnlyTheSameUserAndPasswordUntilExpiry)
{
    AuthCache cache(60000, 10);
    auto t0 = AuthCache::Clock::now();
    cache.store("alice", "secret", ok_answer("alice"), t0);
    AuthAnswer a;
    ASSERT_TRUE(cache.find("alice", "secret", a, t0 + 59s));
    EXPECT_EQ(a.status, MODPOP3D_OK);
    EXPECT_EQ(a.instance, "auth_test");
    EXPECT_EQ(a.result.at("user"), "alice");
    EXPECT_FALSE(cache.find("alice", "Secret", a, t0 + 1s));
    EXPECT_FALSE(cache.find("alice", "secret\n", a, t0 + 1s));
    EXPECT_FALSE(cache.find("alice", "", a, t0 + 1s));
    EXPECT_FALSE(cache.find("bob", "secret", a, t0 + 1s));
    // The user/password boundary is unambiguous.
    EXPECT_FALSE(cache.find("alic", "esecret", a, t0 + 1s));
    // Expired: gone, and the entry is dropped.
    EXPECT_FALSE(cache.find("alice", "secret", a, t0 + 60s));
    EXPECT_EQ(cache.size(), 0u);
}

TEST(AuthCache, FailuresAreNeverStored)
{
    AuthCache cache(60000, 10);
    for (int32_t status :
         {MODPOP3D_E_BADPASS, MODPOP3D_E_NOUSER, MODPOP3D_E_TEMP, MODPOP3D_E_PERM}) {
        AuthAnswer bad = ok_answer("alice");
        bad.status = status;
        cache.store("alice", "secret", bad);
    }
    EXPECT_EQ(cache.size(), 0u);
}

TEST(AuthCache, BoundedEvictsTheOldest)
{
    AuthCache cache(60000, 3);
    auto t0 = AuthCache::Clock::now();
    for (int i = 0; i < 5; ++i)
        cache.store("user" + std::to_string(i), "pw", ok_answer("u"), t0 + std::chrono::seconds(i));
    EXPECT_EQ(cache.size(), 3u);
    AuthAnswer a;
    EXPECT_FALSE(cache.find("user0", "pw", a, t0 + 5s));
    EXPECT_FALSE(cache.find("user1", "pw", a, t0 + 5s));
    for (int i = 2; i < 5; ++i)
        EXPECT_TRUE(cache.find("user" + std::to_string(i), "pw", a, t0 + 5s)) << i;
    // Storing an existing key again refreshes it instead of growing.
    cache.store("user2", "pw", ok_answer("u"), t0 + 6s);
    EXPECT_EQ(cache.size(), 3u);
    cache.store("user5", "pw", ok_answer("u"), t0 + 7s);
    EXPECT_FALSE(cache.find("user3", "pw", a, t0 + 8s)); // now the oldest, dropped
    EXPECT_TRUE(cache.find("user2", "pw", a, t0 + 8s));
}

TEST(AuthCache, ChainServesTheSecondLoginFromTheCache)
{
    Chain c(slow_alice);
    daemon::AuthChain chain(c.modules, 60000, 100);
    modpop3d_session s1, s2, s3;
    auto first = chain.verify_plain(as(s1, "alice"), "alice", "secret");
    ASSERT_EQ(first.status, MODPOP3D_OK);
    EXPECT_EQ(chain.cache_misses(), 1u);
    EXPECT_EQ(chain.cache_hits(), 0u);
    auto second = chain.verify_plain(as(s2, "alice"), "alice", "secret");
    EXPECT_EQ(second.status, MODPOP3D_OK);
    EXPECT_EQ(second.result, first.result);
    EXPECT_EQ(second.instance, first.instance);
    EXPECT_EQ(chain.cache_hits(), 1u);
    // A wrong password asks the module (a miss) and is refused, every time.
    for (int i = 0; i < 2; ++i)
        EXPECT_EQ(chain.verify_plain(as(s3, "alice"), "alice", "wrong").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(chain.cache_hits(), 1u);
    EXPECT_EQ(chain.cache_misses(), 3u);
    // Unknown users and backend failures are not cached either.
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(chain.verify_plain(as(s3, "nobody"), "nobody", "secret").status,
                  MODPOP3D_E_NOUSER);
        EXPECT_EQ(chain.verify_plain(as(s3, "temp"), "temp", "x").status, MODPOP3D_E_TEMP);
    }
    EXPECT_EQ(chain.cache_hits(), 1u);
    EXPECT_EQ(chain.cache_misses(), 7u);
    // Still a hit afterwards.
    EXPECT_EQ(chain.verify_plain(as(s3, "alice"), "alice", "secret").status, MODPOP3D_OK);
    EXPECT_EQ(chain.cache_hits(), 2u);
}

TEST(AuthCache, ChainWithoutTtlAlwaysAsksTheModule)
{
    Chain c("[auth_test]\nusers: alice:secret\n");
    daemon::AuthChain chain(c.modules);
    modpop3d_session s;
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(chain.verify_plain(as(s, "alice"), "alice", "secret").status, MODPOP3D_OK);
    EXPECT_EQ(chain.cache_hits(), 0u);
    EXPECT_EQ(chain.cache_misses(), 0u);
}

TEST(AuthCache, ApopIsNotCached)
{
    Chain c("[auth_test]\nusers: alice:secret\n");
    daemon::AuthChain chain(c.modules, 60000, 100);
    modpop3d_session s;
    std::string ts = "<1.2@example.org>";
    std::string digest = daemon::apop_digest(ts, "secret");
    for (int i = 0; i < 2; ++i)
        EXPECT_EQ(chain.verify_apop(as(s, "alice"), "alice", ts, digest).status, MODPOP3D_OK);
    EXPECT_EQ(chain.cache_hits() + chain.cache_misses(), 0u);
    // An APOP login does not fill the cache for USER/PASS.
    EXPECT_EQ(chain.verify_plain(as(s, "alice"), "alice", "secret").status, MODPOP3D_OK);
    EXPECT_EQ(chain.cache_hits(), 0u);
    EXPECT_EQ(chain.cache_misses(), 1u);
}

TEST(AuthCache, ConcurrentLoginsFromThePool)
{
    Chain c("[auth_test]\nusers: alice:secret bob:hunter2\n");
    daemon::AuthChain chain(c.modules, 60000, 2);
    std::vector<std::thread> threads;
    std::atomic<int> bad{0};
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            modpop3d_session s;
            for (int i = 0; i < 200; ++i) {
                bool a = (i + t) % 2 == 0;
                const char *u = a ? "alice" : "bob";
                auto r = chain.verify_plain(as(s, u), u, a ? "secret" : "hunter2");
                auto w = chain.verify_plain(s, u, "nope");
                if (r.status != MODPOP3D_OK || w.status != MODPOP3D_E_BADPASS)
                    ++bad;
            }
        });
    for (auto &th : threads)
        th.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(chain.cache_hits() + chain.cache_misses(), 8u * 200 * 2);
    EXPECT_GE(chain.cache_hits(), 8u * 200 - 16);
}

// The auth process answers a cache hit on its event loop (no thread hop):
// only a plain login already cached, and only while no hook has to run at
// AUTH_OK (a hook may block, and must see every login).
TEST(AuthCache, LoginCachedAnswersOnlyCachedLoginsWithoutAuthHooks)
{
    Chain c(slow_alice);
    daemon::AuthChain chain(c.modules, 60000, 100);
    modpop3d_session s;
    daemon::AuthAnswer a;
    EXPECT_FALSE(chain.login_cached("alice", "secret", a)); // not checked yet
    auto first = chain.login(as(s, "alice"), false, "alice", "secret", "");
    ASSERT_EQ(first.status, MODPOP3D_OK);
    ASSERT_TRUE(chain.login_cached("alice", "secret", a));
    EXPECT_EQ(a.status, MODPOP3D_OK);
    EXPECT_EQ(a.result, first.result);
    EXPECT_EQ(chain.cache_hits(), 1u);
    EXPECT_FALSE(chain.login_cached("alice", "wrong", a));
    EXPECT_FALSE(chain.login_cached("bob", "hunter2", a));

    char dir[] = "/tmp/mp3-cache-hook-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string record = std::string(dir) + "/events";
    Chain hooked(std::string(slow_alice) + "\n[hook_test]\nrecord: " + record + "\n");
    daemon::AuthChain with_hook(hooked.modules, 60000, 100);
    ASSERT_TRUE(with_hook.has_hooks(MODPOP3D_EV_AUTH_OK));
    ASSERT_EQ(with_hook.login(as(s, "alice"), false, "alice", "secret", "").status, MODPOP3D_OK);
    EXPECT_FALSE(with_hook.login_cached("alice", "secret", a));
    std::remove(record.c_str());
    rmdir(dir);
}
