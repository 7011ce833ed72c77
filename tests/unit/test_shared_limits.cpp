// test_shared_limits.cpp - the cross-worker limit tables: counts per slot
// and per address, refusal without counting, a dead worker's column
// cleared, failure counters that grow, cap and are forgotten, LOGIN-DELAY
// claims and their undoing, and sharing across fork().
#include "ipc/shared_limits.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace modpop3d;

TEST(SharedLimits, CountsPerAddressAcrossSlots)
{
    ipc::SharedLimits t;
    EXPECT_EQ(t.admit(0, "192.0.2.1", 100, 2), nullptr);
    EXPECT_EQ(t.admit(1, "192.0.2.1", 100, 2), nullptr);
    EXPECT_STREQ(t.admit(2, "192.0.2.1", 100, 2), "limit_ip");
    EXPECT_EQ(t.connections(), 2); // the refusal counted nothing
    EXPECT_EQ(t.admit(2, "192.0.2.2", 100, 2), nullptr);
    t.release(0, "192.0.2.1");
    EXPECT_EQ(t.admit(2, "192.0.2.1", 100, 2), nullptr);
    EXPECT_EQ(t.connections(), 3);
}

TEST(SharedLimits, TotalLimit)
{
    ipc::SharedLimits t;
    EXPECT_EQ(t.admit(0, "a", 2, 10), nullptr);
    EXPECT_EQ(t.admit(1, "b", 2, 10), nullptr);
    EXPECT_STREQ(t.admit(2, "c", 2, 10), "limit_total");
    EXPECT_STREQ(t.admit(ipc::SharedLimits::max_slots, "c", 100, 10),
                 "limit_total"); // no such slot
}

TEST(SharedLimits, ClearSlotForgetsADeadWorkersCounts)
{
    // Under a table's random key two addresses share a bucket once in
    // ip_buckets tables (then one is refused early, as documented): take a
    // table where these two do not.
    for (int table = 0; table < 10; ++table) {
        ipc::SharedLimits t;
        ASSERT_EQ(t.admit(3, "192.0.2.9", 10, 2), nullptr);
        ASSERT_EQ(t.admit(3, "192.0.2.9", 10, 2), nullptr);
        if (t.admit(4, "192.0.2.7", 10, 2) != nullptr)
            continue; // the same bucket in this table
        EXPECT_STREQ(t.admit(5, "192.0.2.9", 10, 2), "limit_ip");
        t.clear_slot(3);
        EXPECT_EQ(t.connections(), 1);
        EXPECT_EQ(t.admit(5, "192.0.2.9", 10, 2), nullptr);
        return;
    }
    FAIL() << "ten tables in a row put both addresses in one bucket";
}

TEST(SharedLimits, FailuresGrowCapAndAreForgotten)
{
    ipc::SharedLimits t;
    uint64_t now = 1000000;
    for (uint32_t i = 1; i <= 8; ++i)
        EXPECT_EQ(t.record_failure("198.51.100.1", now + i), i);
    EXPECT_EQ(t.record_failure("198.51.100.1", now + 9), 8u); // capped
    EXPECT_EQ(t.record_failure("198.51.100.2", now + 10), 1u);
    EXPECT_EQ(t.record_failure("198.51.100.1", now + 9 + 600001), 1u); // quiet for 10 min
}

TEST(SharedLimits, LoginDelayClaims)
{
    ipc::SharedLimits t;
    ipc::SharedLimits::Claim c;
    uint64_t now = 5000000;
    EXPECT_TRUE(t.claim_login("alice", now, 60000, c));
    EXPECT_FALSE(t.claim_login("alice", now + 59999, 60000, c));
    EXPECT_TRUE(t.claim_login("bob", now + 1, 60000, c));
    EXPECT_TRUE(t.claim_login("alice", now + 60000, 60000, c));
    // A claim undone (the login failed later) lets the user in again at
    // once, with the earlier login's time back in place.
    ipc::SharedLimits::Claim carol;
    EXPECT_TRUE(t.claim_login("carol", now, 1000, carol));
    EXPECT_TRUE(t.claim_login("carol", now + 2000, 1000, carol));
    t.unclaim_login(carol);
    // 500 ms after the undone claim, but 2500 ms after the real login.
    EXPECT_TRUE(t.claim_login("carol", now + 2500, 1000, carol));
}

TEST(SharedLimits, SharedWithForkedChildren)
{
    ipc::SharedLimits t;
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        bool ok = t.admit(1, "203.0.113.5", 10, 10) == nullptr;
        ipc::SharedLimits::Claim c;
        ok = ok && t.claim_login("dave", 7000000, 60000, c);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_EQ(t.connections(), 1);
    ipc::SharedLimits::Claim c;
    EXPECT_FALSE(t.claim_login("dave", 7000001, 60000, c)); // the child's login counts
    EXPECT_STREQ(t.admit(0, "203.0.113.5", 10, 1), "limit_ip");
}
