// test_mailbox_empty.cpp - the always-empty maildrop opens anywhere, lists
// nothing, serves nothing and commits nothing.
#include "module_harness.hpp"

#include <gtest/gtest.h>

using modpop3d::testing::LoadedModule;
using modpop3d::testing::module_path;

TEST(MailboxEmpty, AlwaysOpensWithZeroMessages)
{
    LoadedModule mod(module_path(), {});
    EXPECT_EQ(mod.descriptor().kind, MODPOP3D_KIND_MAILBOX);
    EXPECT_STREQ(mod.descriptor().name, "mailbox_empty");
    auto session = mod.session({{"user", "nobody"}});
    const auto &ops = mod.mailbox();
    EXPECT_EQ(ops.keepalive, nullptr);
    for (const char *location : {"", "/does/not/exist", "anything at all"}) {
        void *mb = nullptr;
        ASSERT_EQ(ops.open(mod.instance(), session->get(), location, 0, &mb), MODPOP3D_OK);
        ASSERT_NE(mb, nullptr);
        uint32_t n = 99;
        EXPECT_EQ(ops.scan(mb, &n), MODPOP3D_OK);
        EXPECT_EQ(n, 0u);
        modpop3d_msg_info mi{};
        mi.struct_size = sizeof mi;
        EXPECT_EQ(ops.info(mb, 0, &mi), MODPOP3D_E_INVAL);
        modpop3d_sink sink{sizeof(modpop3d_sink), nullptr,
                           [](void *, const void *, size_t) -> int32_t { return MODPOP3D_OK; }};
        EXPECT_EQ(ops.retrieve(mb, 0, 0, &sink), MODPOP3D_E_INVAL);
        modpop3d_commit c{};
        c.struct_size = sizeof c;
        c.count = 0;
        EXPECT_EQ(ops.commit(mb, &c), MODPOP3D_OK);
        ops.close(mb);
    }
}

TEST(MailboxEmpty, TakesNoSettings)
{
    EXPECT_TRUE(LoadedModule::check(module_path(), {}).empty());
    EXPECT_FALSE(LoadedModule::check(module_path(), {{"anything", "1"}}).empty());
}
