// name_index.hpp - an open-addressing hash table from base names (views into
// a buffer the owner keeps alive) to cache entries. It replaces
// std::unordered_map on the second-login path: one allocation for all slots
// and one for all entries instead of one node per name, and probes that stay
// in two arrays; at 50,000 names the node map's lookups were a quarter of the
// CPU of a cached login (perf, bench_maildir).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace mailbox_maildir
{

template <typename V> class NameIndex
{
  public:
    void clear()
    {
        items_.clear();
        slots_.clear();
        mask_ = 0;
    }
    // reserve - room for `n` names without rehashing (load factor <= 1/2).
    void reserve(std::size_t n)
    {
        items_.reserve(n);
        std::size_t cap = 16;
        while (cap < 2 * n)
            cap *= 2;
        if (cap > slots_.size())
            rehash(cap);
    }
    // put - insert or replace.
    void put(std::string_view key, const V &v)
    {
        if (2 * (items_.size() + 1) > slots_.size())
            rehash(slots_.empty() ? 16 : 2 * slots_.size());
        const uint64_t h = hash(key);
        for (std::size_t i = std::size_t(h) & mask_;; i = (i + 1) & mask_) {
            uint32_t s = slots_[i];
            if (s == 0) {
                items_.push_back(Item{key, h, v});
                slots_[i] = uint32_t(items_.size());
                return;
            }
            Item &it = items_[s - 1];
            if (it.hash == h && it.key == key) {
                it.value = v;
                return;
            }
        }
    }
    const V *find(std::string_view key) const
    {
        if (items_.empty())
            return nullptr;
        const uint64_t h = hash(key);
        for (std::size_t i = std::size_t(h) & mask_;; i = (i + 1) & mask_) {
            uint32_t s = slots_[i];
            if (s == 0)
                return nullptr;
            const Item &it = items_[s - 1];
            if (it.hash == h && it.key == key)
                return &it.value;
        }
    }
    std::size_t size() const { return items_.size(); }

  private:
    struct Item {
        std::string_view key;
        uint64_t hash;
        V value;
    };
    // FNV-1a, then a final mix so that the low bits (the slot) depend on
    // every octet: Maildir names differ mostly in their middle digits.
    static uint64_t hash(std::string_view s)
    {
        uint64_t h = 0xcbf29ce484222325ull;
        for (unsigned char c : s) {
            h ^= c;
            h *= 0x100000001b3ull;
        }
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
        return h;
    }
    void rehash(std::size_t cap)
    {
        slots_.assign(cap, 0);
        mask_ = cap - 1;
        for (std::size_t k = 0; k < items_.size(); ++k) {
            std::size_t i = std::size_t(items_[k].hash) & mask_;
            while (slots_[i] != 0)
                i = (i + 1) & mask_;
            slots_[i] = uint32_t(k + 1);
        }
    }
    std::vector<Item> items_;
    std::vector<uint32_t> slots_; // 0 empty, else index into items_ + 1
    std::size_t mask_ = 0;
};

} // namespace mailbox_maildir
