; snowrt_inline.ll: the inline reduction check for code generators, as IR
; (x86-64 Linux; snowrt_inline_aarch64.ll is the AArch64 twin).
;
; The same fast path as snowrt_inline.h, for compilers that emit IR rather
; than C: append this file to a module (after snowrt.ll, which declares
; @snow_reduction_check) and call
;
;   call void @snow_reduction_check_inline()
;
; at calls and loop back-edges instead of @snow_reduction_check. Each call
; counts down a thread-local budget of 64 and calls the real
; @snow_reduction_check when it runs out, so most checks cost a few
; instructions and no call. The guarantee and the argument are those of
; snowrt_inline.h (read its header): the real check comes within 64 inline
; checks of the process's last call into the runtime that can switch it,
; and the counter is found from the thread pointer read by a volatile asm
; at every check, because LLVM 14 treats a thread_local's address as
; constant within a function and would keep using the first worker's
; counter after the process moved to another one.
;
; The two globals are weak and spelled as in snowrt_inline.h, so C code
; using the header and IR using this file share one counter per thread.
; Textual LLVM 14 IR with typed pointers, like snowrt.ll. No target triple
; or datalayout: the module's own apply.

@snow_inline_budget_ = weak thread_local(initialexec) global i32 0, align 4
@snow_inline_budget_offset_ = weak global i64 0, align 8

; Offset of the budget from the thread pointer: the same on every thread
; (initial-exec TLS). Both reads happen with no call in between, so on one
; thread. Threads racing here store the same value.
define linkonce_odr hidden i64 @snow_inline_measure_offset_() noinline nounwind {
entry:
  %tp = call i8* asm sideeffect "movq %fs:0, $0", "=r,~{dirflag},~{fpsr},~{flags}"()
  %tpi = ptrtoint i8* %tp to i64
  %off = sub i64 ptrtoint (i32* @snow_inline_budget_ to i64), %tpi
  store atomic i64 %off, i64* @snow_inline_budget_offset_ monotonic, align 8
  ret i64 %off
}

define linkonce_odr hidden void @snow_reduction_check_inline() alwaysinline nounwind {
entry:
  %off0 = load atomic i64, i64* @snow_inline_budget_offset_ monotonic, align 8
  %unmeasured = icmp eq i64 %off0, 0
  br i1 %unmeasured, label %measure, label %count, !prof !0

measure:
  %measured = call i64 @snow_inline_measure_offset_()
  br label %count

count:
  %off = phi i64 [ %off0, %entry ], [ %measured, %measure ]
  ; The thread this instruction runs on now (never hoisted or merged).
  %tp = call i8* asm sideeffect "movq %fs:0, $0", "=r,~{dirflag},~{fpsr},~{flags}"()
  %cell8 = getelementptr inbounds i8, i8* %tp, i64 %off
  %cell = bitcast i8* %cell8 to i32*
  %left = load i32, i32* %cell, align 4
  %spent = icmp ult i32 %left, 2
  br i1 %spent, label %real, label %fast, !prof !0

real:
  ; Refill before the call: after it the process may run on another thread.
  store i32 64, i32* %cell, align 4
  call void @snow_reduction_check()
  ret void

fast:
  %next = add i32 %left, -1
  store i32 %next, i32* %cell, align 4
  ret void
}

!0 = !{!"branch_weights", i32 1, i32 2000}
