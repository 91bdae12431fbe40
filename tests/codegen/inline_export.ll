; inline_export.ll: a function of "generated code" that uses the IR inline
; reduction check (codegen-shims/snowrt_inline.ll, which is linkonce_odr and
; therefore emitted only where it is used), so inline_check.c can run the
; IR fast path's checks. With -O2 the check is inlined here.

define void @inline_ir_check() nounwind {
entry:
  call void @snow_reduction_check_inline()
  ret void
}
