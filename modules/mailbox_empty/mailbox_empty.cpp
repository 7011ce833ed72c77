// mailbox_empty.cpp - a maildrop that always opens and never holds a
// message: the last resort of an ordered mailbox list, as tpop3d's "empty"
// driver (a user whose mailbox does not exist yet logs in and sees 0
// messages instead of an error). commit() does nothing; there is no lock.
#include <memory>
#include <modpop3d/module.hpp>

namespace mailbox_empty
{
namespace
{

struct Instance {
    const modpop3d_host *host = nullptr;
    modpop3d_ictx *ictx = nullptr;
};

// The handle only remembers its instance, for logging.
struct Mailbox {
    const Instance *inst = nullptr;
};

int32_t instance_new(const modpop3d_host *host, const modpop3d_conf * /*conf*/, modpop3d_ictx *ictx,
                     void **ret_inst) noexcept
{
    return modpop3d::guard(host, ictx, [&] {
        auto inst = std::make_unique<Instance>();
        inst->host = host;
        inst->ictx = ictx;
        *ret_inst = inst.release();
        return MODPOP3D_OK;
    });
}

void instance_free(void *p) noexcept
{
    delete static_cast<Instance *>(p);
}

int32_t mb_open(void *p, modpop3d_session * /*session*/, const char * /*location*/,
                uint32_t /*flags*/, void **ret_mbox) noexcept
{
    auto *inst = static_cast<Instance *>(p);
    return modpop3d::guard(inst->host, inst->ictx, [&] {
        auto mb = std::make_unique<Mailbox>();
        mb->inst = inst;
        inst->host->log(inst->ictx, MODPOP3D_LOG_INFO, "event=open mailbox=empty");
        *ret_mbox = mb.release();
        return MODPOP3D_OK;
    });
}

int32_t mb_scan(void * /*mbox*/, uint32_t *ret_count) noexcept
{
    if (ret_count == nullptr)
        return MODPOP3D_E_INVAL;
    *ret_count = 0;
    return MODPOP3D_OK;
}

int32_t mb_info(void * /*mbox*/, uint32_t /*index*/, modpop3d_msg_info * /*ret*/) noexcept
{
    return MODPOP3D_E_INVAL; // there is no message
}

int32_t mb_retrieve(void * /*mbox*/, uint32_t /*index*/, uint64_t /*offset*/,
                    const modpop3d_sink * /*sink*/) noexcept
{
    return MODPOP3D_E_INVAL;
}

int32_t mb_commit(void * /*mbox*/, const modpop3d_commit *changes) noexcept
{
    if (changes != nullptr && changes->count != 0)
        return MODPOP3D_E_INVAL;
    return MODPOP3D_OK;
}

void mb_close(void *mbox) noexcept
{
    delete static_cast<Mailbox *>(mbox);
}

const modpop3d_mailbox_ops kOps = {
    sizeof(modpop3d_mailbox_ops),
    0,
    mb_open,
    mb_scan,
    mb_info,
    mb_retrieve,
    mb_commit,
    mb_close,
    nullptr,
};

const modpop3d_module kModule = {
    sizeof(modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_MAILBOX,
    MODPOP3D_MODF_THREAD_SAFE,
    "mailbox_empty",
    "0.1.0",
    "An always-empty maildrop, the last resort of an ordered mailbox list",
    nullptr,
    sizeof(modpop3d_conf_item),
    0,
    nullptr,
    instance_new,
    nullptr,
    instance_free,
    &kOps,
};

} // namespace
} // namespace mailbox_empty

// The C++ form of MODPOP3D_MODULE_DEFINE has no prior declaration, which
// -Wmissing-declarations rejects; declare the entry point first.
extern "C" MODPOP3D_EXPORT const struct modpop3d_module *modpop3d_module_entry(void) noexcept;
MODPOP3D_MODULE_DEFINE(mailbox_empty::kModule)
