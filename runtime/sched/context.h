// Context switching between a worker's scheduler loop and process stacks.
//
// Vocabulary:
// - A *context* is a suspended execution: the stack pointer that Boost.Context's
//   jump_fcontext saved (fcontext_t). Resuming it continues where it stopped.
// - The *scheduler context* of a worker runs on the worker thread's own stack;
//   process contexts run on execution stacks (see stack.h).
//
// What a switch preserves: callee-saved registers, the stack pointer, the
// x87 control word and MXCSR (Boost.Context's fcontext ABI). It does not
// preserve anything thread-local: a process may resume on another worker
// thread, so code must not cache the address of a thread_local across a
// switch (read the current worker through worker_current() each time).
//
// Sanitizers: ASan and TSan must be told about every switch, or they report
// false positives on the foreign stack. switch_context() does that.
#pragma once

#include <cstddef>

#include <boost/context/detail/fcontext.hpp>

namespace snow::rt {

using fcontext_t = boost::context::detail::fcontext_t;
using transfer_t = boost::context::detail::transfer_t;

// Per-context sanitizer state, embedded in whoever owns the context.
struct SanitizerFiber {
  void* tsan_fiber = nullptr;          // TSan fiber handle (TSan builds only)
  const void* stack_bottom = nullptr;  // lowest address of the stack (ASan)
  std::size_t stack_size = 0;
  bool owns_tsan_fiber = false;
};

// Creates the TSan fiber for a process context (no-op otherwise).
void sanitizer_fiber_create(SanitizerFiber& f);
// Destroys it (no-op otherwise). Not while it runs.
void sanitizer_fiber_destroy(SanitizerFiber& f);
// Describes the calling thread's own stack (for the scheduler context).
void sanitizer_fiber_adopt_thread(SanitizerFiber& f);

// Switches from the running context (described by `from`) to `to`, passing
// `data`. Returns what the context that later resumes us passed. `from_ends`
// says the running context will never be resumed (its stack is discarded).
transfer_t switch_context(SanitizerFiber& from, const SanitizerFiber& to, fcontext_t to_ctx, void* data,
                          bool from_ends = false);

// Must be called first thing in a context's entry function and after every
// switch returns (switch_context() does the latter itself).
void sanitizer_finish_switch(SanitizerFiber& self);

// ASan keeps per-byte poison state for stack memory. When a stack's bytes are
// copied out and another process's bytes copied in at the same addresses, the
// old poison no longer matches: clear it (no-op without ASan).
void sanitizer_unpoison(const void* p, std::size_t n);

}  // namespace snow::rt
