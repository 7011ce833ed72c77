// modpop3d/module.hpp - optional header-only C++ helpers for module authors.
//
// Compiled into the module, not part of the ABI. guard() runs a module body
// and turns any escaping C++ exception into a status code, so exceptions
// never cross the C ABI (the core calls modules through C function pointers,
// and unwinding through them is undefined behaviour).
//
// Usage:
//   static int32_t my_open(void *inst, ...) noexcept
//   {
//       return modpop3d::guard(host, ictx, [&] { ...; return MODPOP3D_OK; });
//   }
//
// \since ABI 1.0
#ifndef MODPOP3D_MODULE_HPP
#define MODPOP3D_MODULE_HPP

#include <exception>
#include <modpop3d/module.h>
#include <new>
#include <type_traits>

namespace modpop3d
{

// guard - call `body`; map std::bad_alloc to MODPOP3D_E_NOMEM and every other
// exception to MODPOP3D_E_INTERNAL, logging what() through the host when one
// is given.
template <typename Body>
int32_t guard(const modpop3d_host *host, const modpop3d_ictx *ictx, Body &&body) noexcept
{
    static_assert(std::is_convertible_v<std::invoke_result_t<Body>, int32_t>,
                  "a guarded body returns a modpop3d status");
    try {
        return static_cast<int32_t>(body());
    } catch (const std::bad_alloc &) {
        if (host != nullptr && host->log != nullptr)
            host->log(ictx, MODPOP3D_LOG_ERR, "event=exception kind=bad_alloc");
        return MODPOP3D_E_NOMEM;
    } catch (const std::exception &e) {
        if (host != nullptr && host->log != nullptr)
            host->log(ictx, MODPOP3D_LOG_ERR, "event=exception what=\"%s\"", e.what());
        return MODPOP3D_E_INTERNAL;
    } catch (...) {
        if (host != nullptr && host->log != nullptr)
            host->log(ictx, MODPOP3D_LOG_ERR, "event=exception kind=unknown");
        return MODPOP3D_E_INTERNAL;
    }
}

// guard_void - the same for bodies that return nothing (close, instance_free).
template <typename Body>
void guard_void(const modpop3d_host *host, const modpop3d_ictx *ictx, Body &&body) noexcept
{
    (void)guard(host, ictx, [&] {
        body();
        return MODPOP3D_OK;
    });
}

} // namespace modpop3d

#endif // MODPOP3D_MODULE_HPP
