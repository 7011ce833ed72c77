// shared_limits.cpp - the cross-worker limit tables (see shared_limits.hpp).
#include "ipc/shared_limits.hpp"

#include <cstring>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/random.h>

namespace modpop3d::ipc
{

// Plain integers in shared memory, only ever touched through
// std::atomic_ref (the mapping starts zeroed, which is every table's empty
// state).
struct SharedLimits::Region {
    int32_t total[max_slots];
    int32_t per_ip[ip_buckets][max_slots];
    uint64_t failures[failure_buckets];       // (last_ms << 8) | count
    uint64_t logins[login_sets * login_ways]; // (tag << 40) | (ms & 2^40-1); 0 = empty
};

namespace
{

template <typename T> std::atomic_ref<T> at(T &v)
{
    return std::atomic_ref<T>(v);
}

constexpr uint64_t ms_mask = (uint64_t{1} << 40) - 1;
constexpr uint64_t failure_forget_ms = 600000;
constexpr uint32_t failure_cap = 8;

uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

} // namespace

SharedLimits::SharedLimits()
{
    size_ = sizeof(Region);
    void *p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        throw std::runtime_error(std::string("cannot map the shared limit tables: ") +
                                 std::strerror(errno));
    region_ = static_cast<Region *>(p);
    uint64_t key[2] = {0, 0};
    if (getrandom(key, sizeof key, 0) != static_cast<ssize_t>(sizeof key)) {
        munmap(p, size_);
        throw std::runtime_error("cannot draw the limit tables' hash key");
    }
    k0_ = key[0];
    k1_ = key[1];
}

SharedLimits::~SharedLimits()
{
    if (region_ != nullptr)
        munmap(region_, size_);
}

// SipHash-1-3 of `key` under (k0 ^ domain, k1): one table's hash cannot be
// used to predict another's.
uint64_t SharedLimits::hash(std::string_view key, uint64_t domain) const
{
    uint64_t v0 = (k0_ ^ domain) ^ 0x736f6d6570736575ull;
    uint64_t v1 = k1_ ^ 0x646f72616e646f6dull;
    uint64_t v2 = (k0_ ^ domain) ^ 0x6c7967656e657261ull;
    uint64_t v3 = k1_ ^ 0x7465646279746573ull;
    auto round = [&] {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    };
    std::size_t n = key.size(), i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t m = 0;
        for (int b = 0; b < 8; ++b)
            m |= uint64_t{static_cast<unsigned char>(key[i + b])} << (8 * b);
        v3 ^= m;
        round();
        v0 ^= m;
    }
    uint64_t last = uint64_t{n & 0xff} << 56;
    for (int b = 0; i + b < n; ++b)
        last |= uint64_t{static_cast<unsigned char>(key[i + b])} << (8 * b);
    v3 ^= last;
    round();
    v0 ^= last;
    v2 ^= 0xff;
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
}

const char *SharedLimits::admit(unsigned slot, std::string_view ip_key, int64_t max_total,
                                int64_t max_ip)
{
    if (slot >= max_slots)
        return "limit_total";
    auto total = at(region_->total[slot]);
    auto *row = region_->per_ip[hash(ip_key, 1) % ip_buckets];
    auto mine = at(row[slot]);
    // Count first, then look: whoever looks last sees every earlier count.
    total.fetch_add(1);
    mine.fetch_add(1);
    int64_t all = 0, here = 0;
    for (unsigned s = 0; s < max_slots; ++s) {
        all += at(region_->total[s]).load();
        here += at(row[s]).load();
    }
    const char *refuse = nullptr;
    if (all > max_total)
        refuse = "limit_total";
    else if (here > max_ip)
        refuse = "limit_ip";
    if (refuse != nullptr) {
        mine.fetch_sub(1);
        total.fetch_sub(1);
    }
    return refuse;
}

void SharedLimits::release(unsigned slot, std::string_view ip_key)
{
    if (slot >= max_slots)
        return;
    at(region_->per_ip[hash(ip_key, 1) % ip_buckets][slot]).fetch_sub(1);
    at(region_->total[slot]).fetch_sub(1);
}

int64_t SharedLimits::connections() const
{
    int64_t all = 0;
    for (unsigned s = 0; s < max_slots; ++s)
        all += at(region_->total[s]).load();
    return all;
}

uint32_t SharedLimits::record_failure(std::string_view ip_key, uint64_t now_ms)
{
    auto cell = at(region_->failures[hash(ip_key, 2) % failure_buckets]);
    uint64_t old = cell.load();
    for (;;) {
        uint64_t last = old >> 8;
        uint32_t count = static_cast<uint32_t>(old & 0xff);
        if (now_ms - last > failure_forget_ms)
            count = 0;
        count = count + 1 > failure_cap ? failure_cap : count + 1;
        uint64_t next = (now_ms << 8) | count;
        if (cell.compare_exchange_weak(old, next))
            return count;
    }
}

bool SharedLimits::claim_login(std::string_view user, uint64_t now_ms, uint64_t delay_ms,
                               Claim &claim)
{
    uint64_t h = hash(user, 3);
    std::size_t base = (h % login_sets) * login_ways;
    uint64_t tag = ((h >> 40) & 0xffffff) | 1; // never 0: 0 is an empty entry
    uint64_t now = now_ms & ms_mask;
    for (int attempt = 0; attempt < 16; ++attempt) {
        uint64_t seen[login_ways];
        std::size_t target = login_ways, oldest = 0;
        uint64_t oldest_age = 0;
        for (std::size_t w = 0; w < login_ways; ++w) {
            seen[w] = at(region_->logins[base + w]).load();
            uint64_t age = seen[w] == 0 ? ms_mask : (now - (seen[w] & ms_mask)) & ms_mask;
            if (seen[w] != 0 && (seen[w] >> 40) == tag) {
                if (age < delay_ms)
                    return false;
                target = w;
            }
            if (age >= oldest_age) {
                oldest_age = age;
                oldest = w;
            }
        }
        if (target == login_ways)
            target = oldest;
        uint64_t value = (tag << 40) | now;
        if (at(region_->logins[base + target]).compare_exchange_strong(seen[target], value)) {
            claim = Claim{base + target, seen[target], value};
            return true;
        }
    }
    return false; // endless contention on one set: refuse rather than guess
}

void SharedLimits::unclaim_login(const Claim &claim)
{
    uint64_t expected = claim.value;
    at(region_->logins[claim.index]).compare_exchange_strong(expected, claim.previous);
}

void SharedLimits::clear_slot(unsigned slot)
{
    if (slot >= max_slots)
        return;
    at(region_->total[slot]).store(0);
    for (unsigned b = 0; b < ip_buckets; ++b)
        at(region_->per_ip[b][slot]).store(0);
}

} // namespace modpop3d::ipc
