; jobs.ll: Snow's Job module (e2e list: jobs ok, crash, timeout, map in
; order) as the compiler lowers it: Job.async(fn) -> snow_job_async(fn,
; env) with the closure environment from snow_gc_alloc_actor,
; Job.await / Job.await_timeout reading the SnowResult {i8 tag; value @8}
; (Err: a SnowString* [len][bytes]), Job.map over a SnowList
; [len][cap][elements]. Expected output: jobs.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare void @snow_timer_sleep(i64)
declare i64 @snow_job_async(ptr, ptr)
declare ptr @snow_job_await(i64)
declare ptr @snow_job_await_timeout(i64, i64)
declare ptr @snow_job_map(ptr, ptr, ptr)
declare void @snow_panic(ptr, i64, ptr, i64, i32) noreturn
declare i32 @printf(ptr, ...)

@.name_double = private unnamed_addr constant [10 x i8] c"job_double"
@.crashed = private unnamed_addr constant [11 x i8] c"job crashed"
@.file = private unnamed_addr constant [9 x i8] c"jobs.snow"
@.label_ok = private unnamed_addr constant [7 x i8] c"double\00"
@.label_crash = private unnamed_addr constant [6 x i8] c"crash\00"
@.label_timeout = private unnamed_addr constant [8 x i8] c"timeout\00"
@.fmt_ok = private unnamed_addr constant [13 x i8] c"%s: Ok(%ld)\0A\00"
@.fmt_err = private unnamed_addr constant [15 x i8] c"%s: Err(%.*s)\0A\00"
@.fmt_map = private unnamed_addr constant [5 x i8] c"map:\00"
@.fmt_elem = private unnamed_addr constant [5 x i8] c" %ld\00"
@.fmt_nl = private unnamed_addr constant [2 x i8] c"\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"

; fn -> env.x * 2
define i64 @job_double(ptr %env) {
entry:
  %x = load i64, ptr %env, align 8
  %r = mul i64 %x, 2
  ret i64 %r
}

; fn -> panic("job crashed")
define i64 @job_crash(ptr %env) {
entry:
  call void @snow_panic(ptr @.crashed, i64 11, ptr @.file, i64 9, i32 5)
  unreachable
}

; fn -> loop forever
define i64 @job_forever(ptr %env) {
entry:
  br label %loop
loop:
  call void @snow_reduction_check()
  br label %loop
}

; fn x -> Timer.sleep((6 - x) * 10); x * x  (later elements finish first)
define i64 @job_square(ptr %env, i64 %x) {
entry:
  %left = sub i64 6, %x
  %ms = mul i64 %left, 10
  call void @snow_timer_sleep(i64 %ms)
  %r = mul i64 %x, %x
  ret i64 %r
}

define void @print_result(ptr %label, ptr %res) {
entry:
  %tag = load i8, ptr %res, align 1
  %valp = getelementptr i8, ptr %res, i64 8
  %is_ok = icmp eq i8 %tag, 0
  br i1 %is_ok, label %ok, label %err
ok:
  %v = load i64, ptr %valp, align 8
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_ok, ptr %label, i64 %v)
  ret void
err:
  %s = load ptr, ptr %valp, align 8
  %len = load i64, ptr %s, align 8
  %len32 = trunc i64 %len to i32
  %text = getelementptr i8, ptr %s, i64 8
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_err, ptr %label, i32 %len32, ptr %text)
  ret void
}

define void @snow_main() {
entry:
  %i = alloca i64, align 8
  %env = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 21, ptr %env, align 8

  %j1 = call i64 @snow_job_async(ptr @job_double, ptr %env)
  %r1 = call ptr @snow_job_await(i64 %j1)
  call void @print_result(ptr @.label_ok, ptr %r1)
  call void @snow_reduction_check()

  %j2 = call i64 @snow_job_async(ptr @job_crash, ptr %env)
  %r2 = call ptr @snow_job_await(i64 %j2)
  call void @print_result(ptr @.label_crash, ptr %r2)
  call void @snow_reduction_check()

  %j3 = call i64 @snow_job_async(ptr @job_forever, ptr %env)
  %r3 = call ptr @snow_job_await_timeout(i64 %j3, i64 100)
  call void @print_result(ptr @.label_timeout, ptr %r3)
  call void @snow_reduction_check()

  ; Job.map([1, 2, 3, 4, 5], fn x -> ... end)
  %list = call ptr @snow_gc_alloc_actor(i64 56, i64 8)
  store i64 5, ptr %list, align 8
  %capp = getelementptr i8, ptr %list, i64 8
  store i64 5, ptr %capp, align 8
  store i64 0, ptr %i, align 8
  br label %fill
fill:
  %k = load i64, ptr %i, align 8
  %off = mul i64 %k, 8
  %off16 = add i64 %off, 16
  %slot = getelementptr i8, ptr %list, i64 %off16
  %val = add i64 %k, 1
  store i64 %val, ptr %slot, align 8
  store i64 %val, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp ult i64 %val, 5
  br i1 %more, label %fill, label %mapped
mapped:
  %out = call ptr @snow_job_map(ptr %list, ptr @job_square, ptr %env)
  %pm = call i32 (ptr, ...) @printf(ptr @.fmt_map)
  %n = load i64, ptr %out, align 8
  store i64 0, ptr %i, align 8
  br label %print
print:
  %q = load i64, ptr %i, align 8
  %done = icmp uge i64 %q, %n
  br i1 %done, label %end, label %elem
elem:
  %eoff = mul i64 %q, 8
  %eoff16 = add i64 %eoff, 16
  %ep = getelementptr i8, ptr %out, i64 %eoff16
  %e = load i64, ptr %ep, align 8
  %pe = call i32 (ptr, ...) @printf(ptr @.fmt_elem, i64 %e)
  %q1 = add i64 %q, 1
  store i64 %q1, ptr %i, align 8
  call void @snow_reduction_check()
  br label %print
end:
  %pn = call i32 (ptr, ...) @printf(ptr @.fmt_nl)
  %pd = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_double, i64 10, ptr @job_double)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
