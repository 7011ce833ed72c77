// test_ipc_outbox.cpp - ipc::Outbox: a burst far larger than the socket
// buffer is delivered whole, in order, descriptors included, with no send
// ever blocking; a peer that has gone is reported.
#include "ipc/message.hpp"
#include "ipc/outbox.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace modpop3d::ipc
{
namespace
{

struct Pair {
    int fds[2] = {-1, -1};
    Pair() { EXPECT_TRUE(seqpacket_pair(fds)); }
    ~Pair()
    {
        for (int fd : fds)
            if (fd >= 0)
                close(fd);
    }
};

Message numbered(int i)
{
    Message m("answer");
    m.add("id", std::to_string(i)).add("pad", std::string(300, 'x'));
    return m;
}

// fill - an outbox on a socket with a small buffer, sent to until messages
// have to wait.
void fill(Pair &p, Outbox &box)
{
    int small = 4096;
    setsockopt(p.fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    box.set_socket(p.fds[0]);
    while (box.send(numbered(0)) == Io::ok && !box.waiting()) {
    }
    ASSERT_TRUE(box.waiting());
}

TEST(IpcOutbox, BurstLargerThanTheSocketBufferArrivesWholeAndInOrder)
{
    Pair p;
    int small = 4096;
    setsockopt(p.fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    Outbox box(p.fds[0]);
    int backlogs = 0;
    box.on_backlog([&] { ++backlogs; });
    constexpr int total = 5000; // ~1.5 MB, several hundred times the buffer
    for (int i = 0; i < total; ++i)
        ASSERT_EQ(box.send(numbered(i)), Io::ok) << i;
    ASSERT_TRUE(box.waiting()) << "the socket cannot have taken it all";
    EXPECT_EQ(backlogs, 1) << "told once, when the queue stopped being empty";
    // The reader drains while the owner flushes, as two event loops would.
    int next = 0;
    for (int round = 0; round < 100000 && next < total; ++round) {
        Io f = box.flush();
        ASSERT_TRUE(f == Io::ok || f == Io::again);
        Message m;
        std::vector<int> fds;
        while (receive_message(p.fds[1], m, fds, true) == Io::ok) {
            ASSERT_EQ(m.number("id"), static_cast<uint64_t>(next)) << "lost or reordered";
            ++next;
            m = Message();
        }
    }
    EXPECT_EQ(next, total);
    EXPECT_FALSE(box.waiting());
}

TEST(IpcOutbox, QueuedDescriptorsOutliveTheCallersCopy)
{
    Pair p;
    Outbox box;
    fill(p, box);
    int file = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(file, 0);
    struct stat want;
    ASSERT_EQ(fstat(file, &want), 0);
    ASSERT_EQ(box.send(Message("handover"), {file}), Io::ok);
    close(file); // the caller is done with it, as a worker after a hand-over
    int got_fd = -1;
    for (int round = 0; round < 100000 && got_fd < 0; ++round) {
        box.flush();
        Message m;
        std::vector<int> fds;
        while (receive_message(p.fds[1], m, fds, true) == Io::ok) {
            if (m.type == "handover") {
                ASSERT_EQ(fds.size(), 1u);
                got_fd = fds[0];
            }
        }
    }
    ASSERT_GE(got_fd, 0);
    struct stat got;
    ASSERT_EQ(fstat(got_fd, &got), 0);
    EXPECT_EQ(got.st_ino, want.st_ino);
    EXPECT_EQ(got.st_dev, want.st_dev);
    close(got_fd);
}

TEST(IpcOutbox, PeerGoneDropsTheQueueAndSaysSo)
{
    Pair p;
    Outbox box;
    fill(p, box);
    close(p.fds[1]);
    p.fds[1] = -1;
    Io r = box.flush();
    EXPECT_TRUE(r == Io::closed || r == Io::error);
    EXPECT_FALSE(box.waiting());
}

} // namespace
} // namespace modpop3d::ipc
