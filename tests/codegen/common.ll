; common.ll: helpers shared by the codegen test programs.
;
; Each test program is built as codegen-shims/snowrt.ll + common.ll + the
; test's own .ll, concatenated into one module (see CMakeLists.txt), the way
; a code generator emits the runtime declarations into every module. None of
; these files is a complete module on its own.

declare i32 @printf(i8*, ...)
declare i32 @fflush(i8*)
declare void @_exit(i32) noreturn

@.check_fmt = private unnamed_addr constant [31 x i8] c"codegen test: check %d failed\0A\00"

; Fails the test with exit status `code` unless `ok`. Uses _exit so that a
; failure never runs static destructors while the runtime is still running.
define void @check(i1 %ok, i32 %code) {
entry:
  br i1 %ok, label %good, label %bad
good:
  ret void
bad:
  %fmt = getelementptr inbounds [31 x i8], [31 x i8]* @.check_fmt, i64 0, i64 0
  %r = call i32 (i8*, ...) @printf(i8* %fmt, i32 %code)
  %f = call i32 @fflush(i8* null)
  call void @_exit(i32 %code)
  unreachable
}

; u64 at byte offset `off` of `p` (little-endian, any alignment).
define i64 @load_u64(i8* %p, i64 %off) {
entry:
  %q = getelementptr i8, i8* %p, i64 %off
  %r = bitcast i8* %q to i64*
  %v = load i64, i64* %r, align 1
  ret i64 %v
}

define i8 @load_u8(i8* %p, i64 %off) {
entry:
  %q = getelementptr i8, i8* %p, i64 %off
  %v = load i8, i8* %q, align 1
  ret i8 %v
}

define void @store_u64(i8* %p, i64 %off, i64 %v) {
entry:
  %q = getelementptr i8, i8* %p, i64 %off
  %r = bitcast i8* %q to i64*
  store i64 %v, i64* %r, align 1
  ret void
}

; The message fields, read through the %snow_msg type from snowrt.ll.
define i64 @msg_tag(i8* %m) {
entry:
  %mm = bitcast i8* %m to %snow_msg*
  %p = getelementptr %snow_msg, %snow_msg* %mm, i32 0, i32 0
  %v = load i64, i64* %p, align 8
  ret i64 %v
}

define i64 @msg_len(i8* %m) {
entry:
  %mm = bitcast i8* %m to %snow_msg*
  %p = getelementptr %snow_msg, %snow_msg* %mm, i32 0, i32 1
  %v = load i64, i64* %p, align 8
  ret i64 %v
}

; The payload: the %snow_msg data field, which must sit at byte offset 16
; (checked here on every use: code 90).
define i8* @msg_data(i8* %m) {
entry:
  %mm = bitcast i8* %m to %snow_msg*
  %d = getelementptr %snow_msg, %snow_msg* %mm, i32 0, i32 2, i64 0
  %by16 = getelementptr i8, i8* %m, i64 16
  %same = icmp eq i8* %d, %by16
  call void @check(i1 %same, i32 90)
  ret i8* %d
}

; Receives with a deadline and fails with `code` on timeout.
define i8* @receive_or_fail(i64 %timeout, i32 %code) {
entry:
  %m = call i8* @snow_actor_receive(i64 %timeout)
  %got = icmp ne i8* %m, null
  call void @check(i1 %got, i32 %code)
  ret i8* %m
}
