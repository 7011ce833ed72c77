// mbox.hpp - one open, locked mbox for one session: the state behind the
// mailbox ops of mailbox_mbox (open/scan/info/retrieve/commit/close).
#pragma once

#include "locks.hpp"
#include "scanner.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <modpop3d/mailbox.h>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace mbox
{

struct Config {
    Format format = Format::mboxo;
    UidlStyle uidl = UidlStyle::modpop3d;
    LockConfig locks;
    bool index = true;
    bool hide_cclient = true;
};

using LogFn = std::function<void(int level, const std::string &msg)>;

class Mailbox
{
  public:
    // open - open and lock `path`; `index_path` is where the index cache
    // lives ("" = none). Returns a MODPOP3D status.
    static int32_t open(const Config &cfg, const std::string &path, const std::string &index_path,
                        LogFn log, std::unique_ptr<Mailbox> &out);
    ~Mailbox();

    int32_t scan(uint32_t *count);
    int32_t info(uint32_t index, modpop3d_msg_info *ret) const;
    int32_t retrieve(uint32_t index, uint64_t offset, const modpop3d_sink *sink);
    int32_t commit(const modpop3d_commit *changes);
    int32_t keepalive();

  private:
    Mailbox() = default;
    void build_uidls();
    // What the cached figures depend on besides the file: quoting format and
    // whether the c-client message is hidden.
    uint32_t cache_variant() const
    {
        return static_cast<uint32_t>(cfg_.format) | (cfg_.hide_cclient ? 0x100u : 0u);
    }
    bool try_cache(const struct stat &st, ScanResult &res, bool &changed);
    void save_cache(int fd, const struct stat &st, uint64_t covered, uint64_t hidden_end,
                    const std::vector<MsgRec> &msgs);
    int32_t rewrite(const std::vector<uint8_t> &keep, const struct stat &st);

    Config cfg_;
    std::string path_;
    std::string index_path_;
    LogFn log_;
    int fd_ = -1;
    struct stat st_ {
    };
    LockSet locks_;
    bool scanned_ = false;
    bool committed_ = false;
    uint64_t scanned_end_ = 0;
    uint64_t hidden_end_ = 0;
    std::vector<MsgRec> msgs_;
    std::vector<char> uidl_arena_;
    std::vector<uint32_t> uidl_off_;

    // Where the last paused retrieve stopped, to resume without re-reading.
    struct Cursor {
        bool valid = false;
        uint32_t index = 0;
        uint64_t out_off = 0;
        uint64_t raw_pos = 0;
        UnquoteState uq;
    } cursor_;
    std::vector<char> rbuf_;
    std::string obuf_;
};

} // namespace mbox
