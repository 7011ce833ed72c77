// maildrop.hpp - one session's open maildrop: the ordered mailbox spec list
// resolved to a mailbox module instance, and the calls into it.
//
// Spec list (tpop3d): "maildir:$(home)/Maildir bsd:/var/mail/$(user)".
// Each spec is TYPE:LOCATION; TYPE names the module mailbox_TYPE ("bsd" is
// tpop3d's name for mailbox_mbox) or, as TYPE/INSTANCE, one instance of it.
// Specs are tried in order: a location that does not exist (NOENT) moves on
// to the next; any other answer ends the search.
#pragma once

#include "modload/module_set.hpp"
#include "pop3/engine.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace modpop3d::daemon
{

class Maildrop
{
  public:
    Maildrop() = default;
    ~Maildrop() { close(); }
    Maildrop(const Maildrop &) = delete;
    Maildrop &operator=(const Maildrop &) = delete;

    // open - expand `spec_list` with the session's facts and open the first
    // existing maildrop. MODPOP3D_OK, or the status that ended the search
    // (NOENT when no spec exists, INVAL for a bad spec). `why` is for the log.
    int32_t open(const modload::ModuleSet &modules, modpop3d_session &session,
                 const std::string &spec_list, std::string &why);
    bool is_open() const { return mbox_ != nullptr; }
    const std::string &location() const { return location_; }

    // list - size and UIDL of every message the session sees, in the
    // module's order. With an EXPIRE policy (`expire_days` >= 0, RFC 2449)
    // messages retrieved in an earlier session (SEEN) that are older than
    // that many days (0: any) are left out and deleted at commit; a session
    // that does not reach UPDATE deletes nothing.
    int32_t list(std::vector<pop3::MessageInfo> &out, int64_t expire_days = -1, int64_t now = 0);
    // Indexes below are the session's (what list() returned).
    int32_t retrieve(uint32_t index, uint64_t offset, const modpop3d_sink &sink);
    // commit - the client's deletions, plus the expired messages; under
    // EXPIRE 0 what was retrieved in this session is deleted too.
    int32_t commit(const std::vector<uint8_t> &deleted, const std::vector<uint8_t> &retrieved);
    // expired - messages deleted by policy at the last commit (for the log).
    uint32_t expired() const { return expired_count_; }
    int32_t keepalive();
    // close - release the lock; deletes nothing.
    void close();
    // take - become `other` (an open maildrop made on another thread), which
    // is left closed; what this one held is closed first.
    void take(Maildrop &other);

  private:
    const modpop3d_mailbox_ops *ops_ = nullptr;
    void *mbox_ = nullptr;
    std::string location_; // "maildir:/path" as opened, for logs
    uint32_t module_count_ = 0;
    std::vector<uint32_t> visible_; // session index -> module index
    std::vector<uint8_t> expired_;  // per module index: hidden, deleted at commit
    bool expire_retrieved_ = false; // EXPIRE 0
    uint32_t expired_count_ = 0;
};

} // namespace modpop3d::daemon
