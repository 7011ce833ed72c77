// test_loader.cpp - loading modules: the refusals, the exception guard, and
// the host services as a real module sees them through the harness.
#include "modload/loader.hpp"
#include "module_harness.hpp"

#include <cstdlib>
#include <gtest/gtest.h>

using namespace modpop3d;
using modpop3d::testing::LoadedModule;

namespace
{

std::string dir()
{
    const char *d = std::getenv("MODPOP3D_TEST_MODULE_DIR");
    return d ? d : "";
}

std::string path(const std::string &name)
{
    return dir() + "/" + name + ".so";
}

const modpop3d::testing::Settings test_users = {{"users", "alice:secret bob:hunter2"},
                                                {"temp-users", "carol"},
                                                {"home", "/srv/mail/$(domain)/$(local_part)"}};

} // namespace

TEST(Loader, LoadsAModuleAndReadsItsSchema)
{
    modload::Loader loader(dir());
    std::string error;
    const modload::ModuleInfo *m = loader.load("auth_test", error);
    ASSERT_NE(m, nullptr) << error;
    EXPECT_EQ(m->desc->kind, MODPOP3D_KIND_AUTH);
    ASSERT_FALSE(m->schema.empty());
    EXPECT_EQ(m->schema[0].key, "users");
    EXPECT_EQ(loader.load("auth_test", error), m); // loaded once
}

TEST(Loader, MissingModuleNamesDirectoryAndPackage)
{
    modload::Loader loader(dir());
    std::string error;
    EXPECT_EQ(loader.load("auth_ldap", error), nullptr);
    EXPECT_EQ(error, "module 'auth_ldap' not found in " + dir() +
                         ": is the modpop3d-auth-ldap package installed?");
}

TEST(Loader, RefusesOtherAbiVersionsAndMisnamedModules)
{
    modload::Loader loader(dir());
    std::string error;
    EXPECT_EQ(loader.load("auth_abi_major2", error), nullptr);
    EXPECT_NE(error.find("built for modpop3d ABI 2.0, this server has ABI 1.0: rebuild it or "
                         "update modpop3d-auth-abi-major2"),
              std::string::npos)
        << error;
    EXPECT_EQ(loader.load("auth_abi_minor_new", error), nullptr);
    EXPECT_NE(error.find("needs modpop3d ABI 1.1, newer than this server's 1.0"), std::string::npos)
        << error;
    EXPECT_EQ(loader.load("auth_misnamed", error), nullptr);
    EXPECT_NE(error.find("its descriptor calls it 'some_other_name'"), std::string::npos) << error;
}

TEST(Loader, RefusesFilesThatAreNotModules)
{
    modload::Loader loader("/nonexistent");
    std::string error;
    EXPECT_EQ(loader.load_path("/etc/hostname", error), nullptr);
    EXPECT_NE(error.find("cannot be loaded"), std::string::npos) << error;
}

TEST(Harness, AuthModuleThroughHostServices)
{
    LoadedModule m(path("auth_test"), test_users);
    auto s = m.session({{"user", "alice@example.org"}});
    // The module receives the user name given to verify_plain; the session
    // facts feed $(domain) and $(local_part) in its home template.
    auto ok = m.verify_plain(*s, "alice", "secret");
    EXPECT_EQ(ok.status, MODPOP3D_OK);
    EXPECT_EQ(ok.result["user"], "alice");
    EXPECT_EQ(ok.result["home"], "/srv/mail/example.org/alice");
    EXPECT_EQ(ok.result["uid"], "1000");
    EXPECT_EQ(m.verify_plain(*s, "alice", "Secret").status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(m.verify_plain(*s, "alice", std::string("secret\0", 7)).status, MODPOP3D_E_BADPASS);
    EXPECT_EQ(m.verify_plain(*s, "mallory", "x").status, MODPOP3D_E_NOUSER);
    EXPECT_EQ(m.verify_plain(*s, "carol", "x").status, MODPOP3D_E_TEMP);
    auto cred = m.lookup_credentials(*s, "bob", "PLAIN");
    EXPECT_EQ(cred.status, MODPOP3D_OK);
    EXPECT_EQ(cred.result["password"], "{PLAIN}hunter2");
    EXPECT_EQ(m.lookup_credentials(*s, "bob", "SCRAM-SHA-256").status, MODPOP3D_E_NOTSUP);
    auto logs = m.log_lines();
    ASSERT_FALSE(logs.empty());
    EXPECT_NE(logs.back().find("module=auth_test event=backend_down user=carol"),
              std::string::npos);
}

TEST(Harness, ModuleConfCheckErrorsCarryFileAndLine)
{
    auto errors = LoadedModule::check(path("auth_test"), {{"users", "alice:x nocolon"}});
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0], "<test>:2: [auth_test] users: item 'nocolon' is not name:password");
    errors = LoadedModule::check(path("auth_test"), {{"uid", "0"}});
    ASSERT_EQ(errors.size(), 2u);
    EXPECT_NE(errors[0].find("<test>:2: [auth_test] uid: '0' is out of range (1 to 65534)"),
              std::string::npos);
    EXPECT_NE(errors[1].find("<test>:1: [auth_test] needs 'users'"), std::string::npos);
    EXPECT_THROW(LoadedModule(path("auth_test"), {{"colour", "blue"}}), std::runtime_error);
}

TEST(Harness, ExceptionsNeverCrossTheAbi)
{
    LoadedModule m(path("auth_throws"), {});
    auto s = m.session();
    EXPECT_EQ(m.verify_plain(*s, "x", "y").status, MODPOP3D_E_INTERNAL);
    EXPECT_EQ(m.verify_plain(*s, "oom", "y").status, MODPOP3D_E_NOMEM);
    EXPECT_EQ(m.verify_plain(*s, "int", "y").status, MODPOP3D_E_INTERNAL);
    auto logs = m.log_lines();
    ASSERT_EQ(logs.size(), 3u);
    EXPECT_NE(logs[0].find("event=exception what=\"backend exploded\""), std::string::npos);
    EXPECT_NE(logs[1].find("kind=bad_alloc"), std::string::npos);
    EXPECT_NE(logs[2].find("kind=unknown"), std::string::npos);
}

TEST(Harness, MailboxModuleStreamsWithPauses)
{
    LoadedModule m(path("mailbox_memory"), {{"count", "2"}, {"body-lines", "50"}});
    const auto &ops = m.mailbox();
    auto s = m.session();
    void *mbox = nullptr;
    ASSERT_EQ(ops.open(m.instance(), s->get(), "harness", 0, &mbox), MODPOP3D_OK);
    void *again = nullptr;
    EXPECT_EQ(ops.open(m.instance(), s->get(), "harness", 0, &again), MODPOP3D_E_LOCKED);
    EXPECT_EQ(ops.open(m.instance(), s->get(), "missing-box", 0, &again), MODPOP3D_E_NOENT);
    uint32_t count = 0;
    ASSERT_EQ(ops.scan(mbox, &count), MODPOP3D_OK);
    ASSERT_EQ(count, 2u);
    std::string whole = m.retrieve_all(mbox, 1);
    int32_t rc = 0;
    std::string paused = m.retrieve_all(mbox, 1, 13, &rc);
    EXPECT_EQ(rc, MODPOP3D_OK);
    EXPECT_EQ(paused, whole);
    EXPECT_EQ(whole.substr(whole.size() - 16), "no final newline");
    modpop3d_msg_info info{sizeof info, 0, 0, nullptr, 0};
    ASSERT_EQ(ops.info(mbox, 1, &info), MODPOP3D_OK);
    std::size_t lf = static_cast<std::size_t>(std::count(whole.begin(), whole.end(), '\n'));
    EXPECT_EQ(info.size, whole.size() + lf);
    EXPECT_STREQ(info.uidl, "mem-2");
    ops.close(mbox);
}
