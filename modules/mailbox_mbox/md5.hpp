// md5.hpp - a small streaming MD5 (RFC 1321), used for UIDLs and for
// validating the index cache. Not used for anything security-relevant: UIDLs
// only need a stable, well-known function (tpop3d used MD5 too).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mbox
{

using Digest = std::array<uint8_t, 16>;

class Md5
{
  public:
    Md5() { reset(); }
    void reset();
    void update(const void *data, std::size_t len);
    Digest finish();

  private:
    void block(const uint8_t *p);
    uint32_t h_[4];
    uint64_t total_ = 0;
    uint8_t buf_[64];
    std::size_t used_ = 0;
};

Digest md5(const void *data, std::size_t len);
std::string hex(const Digest &d);

} // namespace mbox
