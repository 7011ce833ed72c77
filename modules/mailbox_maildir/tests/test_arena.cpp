// test_arena.cpp - the listing's name storage: every copy stays where it was
// put, whatever the sizes, while blocks grow from small to large.
#include "../arena.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

using mailbox_maildir::Arena;

TEST(Arena, CopiesStayValidAcrossBlocksOfEverySize)
{
    Arena a;
    std::vector<std::pair<const char *, std::string>> kept;
    // Small names fill the first blocks; some exceed the largest block.
    for (int i = 0; i < 20000; ++i) {
        std::string s = "1700000000.M" + std::to_string(i) + "P42.host,S=" + std::to_string(i * 7);
        if (i % 5000 == 4999)
            s.assign(300 * 1024 + static_cast<std::size_t>(i), static_cast<char>('a' + i % 26));
        kept.emplace_back(a.dup(s), s);
    }
    for (const auto &[p, s] : kept)
        ASSERT_EQ(std::string(p), s);
}

TEST(Arena, EmptyAndExactFitCopies)
{
    Arena a;
    const char *empty = a.dup("");
    EXPECT_EQ(std::string(empty), "");
    // The empty copy took one byte; 4094 more and their NUL fill the 4 KiB
    // first block exactly, so the next copy starts a new block.
    const std::string fill(4094, 'x');
    const char *f = a.dup(fill);
    const char *next = a.dup("next");
    EXPECT_EQ(std::string(f), fill);
    EXPECT_EQ(std::string(next), "next");
    EXPECT_EQ(std::string(empty), "");
}
