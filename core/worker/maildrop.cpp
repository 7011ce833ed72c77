// maildrop.cpp - resolving mailbox specs and calling mailbox modules.
#include "worker/maildrop.hpp"

#include "config/schema.hpp"
#include "modload/host_services.hpp"
#include "util/words.hpp"

#include <utility>

namespace modpop3d::daemon
{

namespace
{

// find_instance - the mailbox instance serving TYPE or TYPE/INSTANCE.
const modload::Instance *find_instance(const modload::ModuleSet &modules, std::string type)
{
    std::string instance;
    auto slash = type.find('/');
    if (slash != std::string::npos) {
        instance = type.substr(slash + 1);
        type.erase(slash);
    }
    if (type == "bsd")
        type = "mbox";
    std::string module = "mailbox_" + type;
    for (const auto *i : modules.of_kind(MODPOP3D_KIND_MAILBOX))
        if (i->conf->module == module && (instance.empty() || i->conf->instance == instance))
            return i;
    return nullptr;
}

} // namespace

int32_t Maildrop::open(const modload::ModuleSet &modules, modpop3d_session &session,
                       const std::string &spec_list, std::string &why)
{
    close();
    std::string expanded;
    std::string error;
    if (modload::expand_for_session(session, spec_list, nullptr, nullptr, expanded, &error) !=
        MODPOP3D_OK) {
        why = "mailbox spec '" + spec_list + "': " + error;
        return MODPOP3D_E_INVAL;
    }
    int32_t last = MODPOP3D_E_NOENT;
    why = "no mailbox spec exists: " + expanded;
    for (const auto &spec : util::split_words(expanded)) {
        auto colon = spec.find(':');
        if (colon == std::string::npos || colon == 0) {
            why = "mailbox spec '" + spec + "' is not TYPE:LOCATION";
            return MODPOP3D_E_INVAL;
        }
        const modload::Instance *inst = find_instance(modules, spec.substr(0, colon));
        if (inst == nullptr) {
            why = "mailbox spec '" + spec + "' needs a [mailbox_" + spec.substr(0, colon) +
                  "] section";
            return MODPOP3D_E_INVAL;
        }
        const auto *ops = static_cast<const modpop3d_mailbox_ops *>(inst->module->desc->ops);
        void *mbox = nullptr;
        std::string location = spec.substr(colon + 1);
        last = ops->open(inst->inst, &session, location.c_str(), 0, &mbox);
        if (last == MODPOP3D_E_NOENT)
            continue;
        if (last != MODPOP3D_OK) {
            why = "cannot open " + spec + " (status " + std::to_string(last) + ")";
            return last;
        }
        ops_ = ops;
        mbox_ = mbox;
        location_ = spec;
        return MODPOP3D_OK;
    }
    return last;
}

int32_t Maildrop::list(std::vector<pop3::MessageInfo> &out, int64_t expire_days, int64_t now)
{
    uint32_t count = 0;
    int32_t rc = ops_->scan(mbox_, &count);
    if (rc != MODPOP3D_OK)
        return rc;
    out.clear();
    out.reserve(count);
    visible_.clear();
    visible_.reserve(count);
    expired_.assign(count, 0);
    module_count_ = count;
    expire_retrieved_ = expire_days == 0;
    expired_count_ = 0;
    for (uint32_t i = 0; i < count; ++i) {
        modpop3d_msg_info info{sizeof(modpop3d_msg_info), 0, 0, nullptr, 0};
        rc = ops_->info(mbox_, i, &info);
        if (rc != MODPOP3D_OK)
            return rc;
        // The age counts from delivery: a message without a known delivery
        // time expires only under EXPIRE 0.
        const bool seen = (info.flags & MODPOP3D_MSG_SEEN) != 0;
        if (expire_days >= 0 && seen &&
            (expire_days == 0 ||
             (info.received > 0 && now - info.received > expire_days * 86400))) {
            expired_[i] = 1;
            continue;
        }
        visible_.push_back(i);
        out.push_back(pop3::MessageInfo{info.size, info.uidl ? info.uidl : ""});
    }
    return MODPOP3D_OK;
}

int32_t Maildrop::retrieve(uint32_t index, uint64_t offset, const modpop3d_sink &sink)
{
    if (index >= visible_.size())
        return MODPOP3D_E_INVAL;
    return ops_->retrieve(mbox_, visible_[index], offset, &sink);
}

int32_t Maildrop::commit(const std::vector<uint8_t> &deleted, const std::vector<uint8_t> &retrieved)
{
    // Back to the module's numbering, with the policy's deletions added.
    std::vector<uint8_t> del(expired_), got(module_count_, 0);
    expired_count_ = 0;
    for (uint8_t e : expired_)
        expired_count_ += e;
    for (std::size_t i = 0; i < visible_.size(); ++i) {
        const bool d = i < deleted.size() && deleted[i];
        const bool r = i < retrieved.size() && retrieved[i];
        got[visible_[i]] = r;
        if (!d && r && expire_retrieved_)
            ++expired_count_;
        del[visible_[i]] = d || (r && expire_retrieved_);
    }
    modpop3d_commit changes{sizeof(modpop3d_commit), module_count_, del.data(), got.data()};
    return ops_->commit(mbox_, &changes);
}

int32_t Maildrop::keepalive()
{
    if (ops_ == nullptr || ops_->keepalive == nullptr)
        return MODPOP3D_OK;
    return ops_->keepalive(mbox_);
}

void Maildrop::close()
{
    if (mbox_ != nullptr)
        ops_->close(mbox_);
    mbox_ = nullptr;
    ops_ = nullptr;
}

void Maildrop::take(Maildrop &other)
{
    if (&other == this)
        return;
    close();
    ops_ = std::exchange(other.ops_, nullptr);
    mbox_ = std::exchange(other.mbox_, nullptr);
    location_ = std::move(other.location_);
    module_count_ = std::exchange(other.module_count_, 0);
    visible_ = std::move(other.visible_);
    expired_ = std::move(other.expired_);
    expire_retrieved_ = std::exchange(other.expire_retrieved_, false);
    expired_count_ = std::exchange(other.expired_count_, 0);
}

} // namespace modpop3d::daemon
