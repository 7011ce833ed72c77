// arena.hpp - append-only storage for the listing's names and UIDLs. Blocks
// never move, so the UIDL pointers handed to the core stay valid until close().
#pragma once

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
    static constexpr std::size_t kBlock = 256 * 1024;
    char *alloc(std::size_t n)
    {
        if (n > kBlock) {
            blocks_.push_back(std::make_unique_for_overwrite<char[]>(n));
            return blocks_.back().get();
        }
        if (left_ < n) {
            blocks_.push_back(std::make_unique_for_overwrite<char[]>(kBlock));
            next_ = blocks_.back().get();
            left_ = kBlock;
        }
        char *p = next_;
        next_ += n;
        left_ -= n;
        return p;
    }
    std::vector<std::unique_ptr<char[]>> blocks_;
    char *next_ = nullptr;
    std::size_t left_ = 0;
};

} // namespace mailbox_maildir
