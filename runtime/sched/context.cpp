#include "runtime/sched/context.h"

#if defined(SNOW_SANITIZE_ADDRESS)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(SNOW_SANITIZE_THREAD)
#include <sanitizer/tsan_interface.h>
#endif

namespace snow::rt {

namespace {
#if defined(SNOW_SANITIZE_ADDRESS)
thread_local void* t_fake_stack = nullptr;
#endif
}  // namespace

void sanitizer_fiber_create(SanitizerFiber& f) {
#if defined(SNOW_SANITIZE_THREAD)
  f.tsan_fiber = __tsan_create_fiber(0);
  f.owns_tsan_fiber = true;
#else
  (void)f;
#endif
}

void sanitizer_fiber_destroy(SanitizerFiber& f) {
#if defined(SNOW_SANITIZE_THREAD)
  if (f.owns_tsan_fiber && f.tsan_fiber) __tsan_destroy_fiber(f.tsan_fiber);
#endif
  f.tsan_fiber = nullptr;
  f.owns_tsan_fiber = false;
}

void sanitizer_fiber_adopt_thread(SanitizerFiber& f) {
#if defined(SNOW_SANITIZE_THREAD)
  f.tsan_fiber = __tsan_get_current_fiber();
  f.owns_tsan_fiber = false;
#else
  (void)f;
#endif
}

transfer_t switch_context(SanitizerFiber& from, const SanitizerFiber& to, fcontext_t to_ctx, void* data,
                          bool from_ends) {
#if defined(SNOW_SANITIZE_ADDRESS)
  __sanitizer_start_switch_fiber(from_ends ? nullptr : &t_fake_stack, to.stack_bottom, to.stack_size);
#else
  (void)from_ends;
#endif
#if defined(SNOW_SANITIZE_THREAD)
  __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
  transfer_t t = boost::context::detail::jump_fcontext(to_ctx, data);
  sanitizer_finish_switch(from);
  return t;
}

void sanitizer_finish_switch(SanitizerFiber& self) {
#if defined(SNOW_SANITIZE_ADDRESS)
  const void* old_bottom = nullptr;
  std::size_t old_size = 0;
  __sanitizer_finish_switch_fiber(t_fake_stack, &old_bottom, &old_size);
  (void)self;
#else
  (void)self;
#endif
}

void sanitizer_unpoison(const void* p, std::size_t n) {
#if defined(SNOW_SANITIZE_ADDRESS)
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}

}  // namespace snow::rt
