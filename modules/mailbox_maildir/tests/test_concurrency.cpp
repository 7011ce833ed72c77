// test_concurrency.cpp - deliveries racing with sessions. A thread delivers
// N unique messages Maildir-style (tmp/ then rename into new/) while two
// session threads, serialised only by the exclusive lock, open, retrieve
// and delete repeatedly. At the end: delivered = deleted + remaining, no
// message deleted twice, none lost, every retrieved body intact.
#include "maildir_fixture.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

using namespace maildir_test;
using modpop3d::testing::module_path;

namespace
{

constexpr int kMessages = 400;

std::string body_of(int id)
{
    return "Subject: message " + std::to_string(id) + "\n\nbody of " + std::to_string(id) + "\n" +
           std::string(std::size_t(id % 13) * 10, '.') + "\n";
}

// id_of - the id in a retrieved body, or -1 when the body is not intact.
int id_of(const std::string &body)
{
    const std::string prefix = "Subject: message ";
    if (body.rfind(prefix, 0) != 0)
        return -1;
    int id = std::atoi(body.c_str() + prefix.size());
    return body == body_of(id) ? id : -1;
}

} // namespace

TEST(MaildirConcurrency, DeliveriesDuringSessionsLoseAndDuplicateNothing)
{
    TempDir t;
    std::string md = make_maildir(t.path() + "/Maildir");
    LoadedModule mod(module_path(), {{"exclusive-lock", "yes"}});

    std::atomic<bool> delivering{true};
    std::thread deliverer([&] {
        for (int id = 0; id < kMessages; ++id) {
            deliver(md, std::to_string(1700000000 + id / 7) + ".M" + std::to_string(id) + "P1.host",
                    body_of(id));
            if (id % 16 == 0)
                std::this_thread::sleep_for(std::chrono::microseconds(300));
        }
        delivering = false;
    });

    std::mutex mu, harness_mu;
    std::multiset<int> deleted;
    std::atomic<int> bad_bodies{0}, gone{0}, sessions{0}, locked{0}, errors{0};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);

    auto session_loop = [&](int who) {
        // Each thread owns its harness sessions; handles are per thread.
        for (int round = 0; round < 20000 && std::chrono::steady_clock::now() < deadline; ++round) {
            bool last_round = !delivering.load();
            // The harness's session factory is not promised to be thread-safe.
            std::unique_lock<std::mutex> hg(harness_mu);
            auto mbp = std::make_unique<Mbox>(mod, md);
            hg.unlock();
            // Closed (and its harness session released) under the same mutex.
            auto done = [&] {
                std::lock_guard<std::mutex> g(harness_mu);
                mbp.reset();
            };
            Mbox &mb = *mbp;
            if (mb.status() == MODPOP3D_E_LOCKED) {
                ++locked;
                done();
                std::this_thread::yield();
                continue;
            }
            if (mb.status() != MODPOP3D_OK) {
                ++errors;
                done();
                return;
            }
            ++sessions;
            uint32_t n = 0;
            if (mb.ops().scan(mb.get(), &n) != MODPOP3D_OK) {
                ++errors;
                done();
                return;
            }
            std::vector<uint8_t> del(n, 0), ret(n, 0);
            std::vector<int> ids(n, -1);
            for (uint32_t i = 0; i < n; ++i) {
                // Thread 0 deletes everything it reads; thread 1 only every
                // other message, so the seen-flag path runs too.
                int32_t st = MODPOP3D_OK;
                std::string body = retrieve_string(mb, i, &st);
                if (st == MODPOP3D_E_GONE) {
                    ++gone;
                    continue;
                }
                ids[i] = id_of(body);
                if (ids[i] < 0) {
                    ++bad_bodies;
                    continue;
                }
                ret[i] = 1;
                del[i] = who == 0 || i % 2 == 0 ? 1 : 0;
            }
            int32_t committed = mb.commit(del, ret);
            done();
            if (committed != MODPOP3D_OK) {
                ++errors;
                return;
            }
            {
                std::lock_guard<std::mutex> g(mu);
                for (uint32_t i = 0; i < n; ++i)
                    if (del[i] != 0)
                        deleted.insert(ids[i]);
            }
            if (last_round && n == 0)
                return;
        }
    };
    std::thread s0(session_loop, 0), s1(session_loop, 1);
    s0.join();
    s1.join();
    deliverer.join();

    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(bad_bodies.load(), 0);
    // With the exclusive lock nobody else deletes: a listed message never vanishes.
    EXPECT_EQ(gone.load(), 0);
    EXPECT_GT(sessions.load(), 1);

    std::multiset<int> remaining;
    for (const char *sub : {"/new", "/cur"})
        for (const std::string &name : list_dir(md + sub))
            remaining.insert(id_of(read_file(md + sub + "/" + name)));
    std::set<int> all;
    for (int id : deleted) {
        EXPECT_EQ(deleted.count(id), 1u) << "deleted twice: " << id;
        all.insert(id);
    }
    for (int id : remaining) {
        EXPECT_EQ(remaining.count(id), 1u) << "duplicated: " << id;
        EXPECT_EQ(deleted.count(id), 0u) << "deleted yet still there: " << id;
        all.insert(id);
    }
    EXPECT_EQ(deleted.size() + remaining.size(), std::size_t(kMessages));
    EXPECT_EQ(all.size(), std::size_t(kMessages));
    EXPECT_EQ(*all.begin(), 0);
    EXPECT_EQ(*all.rbegin(), kMessages - 1);
    EXPECT_TRUE(list_dir(md + "/tmp").empty());
}
