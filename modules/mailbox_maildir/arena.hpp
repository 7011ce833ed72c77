// arena.hpp - append-only storage for the listing's names and UIDLs. Blocks
// never move, so the UIDL pointers handed to the core stay valid until close().
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace mailbox_maildir
{

class Arena
{
  public:
    // dup - copy `s` followed by a NUL; returns the copy.
    const char *dup(std::string_view s)
    {
        char *p = alloc(s.size() + 1);
        std::memcpy(p, s.data(), s.size());
        p[s.size()] = '\0';
        return p;
    }

  private:
    // Blocks start small and double up to kMaxBlock: most maildrops hold a
    // few dozen names, and a 256 KiB block for each login made the heap grow
    // and shrink (brk and page faults) with every session.
    static constexpr std::size_t kFirstBlock = 4 * 1024;
    static constexpr std::size_t kMaxBlock = 256 * 1024;
    char *alloc(std::size_t n)
    {
        if (n > kMaxBlock) {
            blocks_.push_back(std::make_unique_for_overwrite<char[]>(n));
            return blocks_.back().get();
        }
        if (left_ < n) {
            block_ = block_ == 0 ? kFirstBlock : std::min(block_ * 2, kMaxBlock);
            while (block_ < n)
                block_ *= 2;
            blocks_.push_back(std::make_unique_for_overwrite<char[]>(block_));
            next_ = blocks_.back().get();
            left_ = block_;
        }
        char *p = next_;
        next_ += n;
        left_ -= n;
        return p;
    }
    std::vector<std::unique_ptr<char[]>> blocks_;
    char *next_ = nullptr;
    std::size_t left_ = 0;
    std::size_t block_ = 0; // the size of the newest block
};

} // namespace mailbox_maildir
