; timer_sleep.ll: Snow's e2e "Timer.sleep": snow_timer_sleep(ms) parks the
; calling process for ms, in an actor and in main (no earlier, and within
; 500 ms of slack); it parks only that process, so 1000 actors sleeping
; 200 ms at once (each measures its own sleep) have all woken 1.5 s after
; the last was spawned (a sleep that held a worker thread would need
; 1000 * 200 ms / workers); 0 and negative return at once.
; Measurements go to stderr, verdicts to stdout.
; Expected output: timer_sleep.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare void @snow_timer_sleep(i64)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare i32 @printf(ptr, ...)
declare i32 @fprintf(ptr, ptr, ...)
declare i32 @fflush(ptr)
declare i32 @clock_gettime(i32, ptr)
declare void @_exit(i32) noreturn
@stderr = external global ptr

@.name_napper = private unnamed_addr constant [6 x i8] c"napper"
@.name_sleeper = private unnamed_addr constant [7 x i8] c"sleeper"
@.who_actor = private unnamed_addr constant [6 x i8] c"actor\00"
@.who_main = private unnamed_addr constant [5 x i8] c"main\00"
@.fmt_slept = private unnamed_addr constant [34 x i8] c"%s: Timer.sleep(%ld) returned %s\0A\00"
@.fmt_measure = private unnamed_addr constant [41 x i8] c"%s: Timer.sleep(%ld) returned in %ld us\0A\00"
@.on_time = private unnamed_addr constant [8 x i8] c"on time\00"
@.early = private unnamed_addr constant [10 x i8] c"early (!)\00"
@.late = private unnamed_addr constant [9 x i8] c"late (!)\00"
@.fmt_many = private unnamed_addr constant [90 x i8] c"1000 actors slept 200 ms at once: none woke early, all by 1.5 s after the last spawn: %s\0A\00"
@.fmt_many_measure = private unnamed_addr constant [77 x i8] c"1000 sleepers: shortest sleep %ld us, last woke %ld us after the last spawn\0A\00"
@.fmt_zero = private unnamed_addr constant [55 x i8] c"Timer.sleep(0) and Timer.sleep(-5) return at once: %s\0A\00"
@.yes = private unnamed_addr constant [4 x i8] c"yes\00"
@.no = private unnamed_addr constant [3 x i8] c"no\00"
@.fmt_missing = private unnamed_addr constant [29 x i8] c"main: no answer for step %d\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"

define i64 @now_us() {
entry:
  %ts = alloca { i64, i64 }, align 8
  %r = call i32 @clock_gettime(i32 1, ptr %ts)
  %sp = getelementptr { i64, i64 }, ptr %ts, i64 0, i32 0
  %s = load i64, ptr %sp, align 8
  %nsp = getelementptr { i64, i64 }, ptr %ts, i64 0, i32 1
  %ns = load i64, ptr %nsp, align 8
  %us1 = mul i64 %s, 1000000
  %us2 = sdiv i64 %ns, 1000
  %us = add i64 %us1, %us2
  ret i64 %us
}

define ptr @expect(ptr %m, i32 %step) {
entry:
  %ok = icmp ne ptr %m, null
  br i1 %ok, label %good, label %bad
good:
  ret ptr %m
bad:
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_missing, i32 %step)
  %f = call i32 @fflush(ptr null)
  call void @_exit(i32 1)
  unreachable
}

; Timer.sleep(ms), timed and printed: "<who>: Timer.sleep(ms) returned on time".
define void @sleep_on_time(ptr %who, i64 %ms) {
entry:
  %t0 = call i64 @now_us()
  call void @snow_timer_sleep(i64 %ms)
  %t1 = call i64 @now_us()
  %dt = sub i64 %t1, %t0
  %err = load ptr, ptr @stderr, align 8
  %pm = call i32 (ptr, ptr, ...) @fprintf(ptr %err, ptr @.fmt_measure, ptr %who, i64 %ms, i64 %dt)
  %lo = mul i64 %ms, 1000
  %hi = add i64 %lo, 500000
  %is_early = icmp slt i64 %dt, %lo
  %is_late = icmp sgt i64 %dt, %hi
  %v1 = select i1 %is_late, ptr @.late, ptr @.on_time
  %v2 = select i1 %is_early, ptr @.early, ptr %v1
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_slept, ptr %who, i64 %ms, ptr %v2)
  ret void
}

; actor napper(main): sleeps 50 ms on its own, reports, tells main.
define void @napper(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  call void @sleep_on_time(ptr @.who_actor, i64 50)
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 1, ptr %m, align 8
  call void @snow_actor_send(i64 %main, ptr %m, i64 8)
  ret void
}

; actor sleeper(main): Timer.sleep(200); send main, the microseconds it slept
define void @sleeper(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %t0 = call i64 @now_us()
  call void @snow_timer_sleep(i64 200)
  %t1 = call i64 @now_us()
  %dt = sub i64 %t1, %t0
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %dt, ptr %m, align 8
  call void @snow_actor_send(i64 %main, ptr %m, i64 8)
  ret void
}

define void @snow_main() {
entry:
  %i = alloca i64, align 8
  %shortest = alloca i64, align 8
  %self = call i64 @snow_actor_self()
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %self, ptr %args, align 8
  %n = call i64 @snow_actor_spawn(ptr @napper, ptr %args, i64 8, i8 1)
  %nd = call ptr @snow_actor_receive(i64 5000)
  %nd_ok = call ptr @expect(ptr %nd, i32 1)
  call void @sleep_on_time(ptr @.who_main, i64 50)
  call void @snow_reduction_check()

  ; 1000 sleepers at once
  store i64 0, ptr %i, align 8
  br label %spawn
spawn:
  %k = load i64, ptr %i, align 8
  %p = call i64 @snow_actor_spawn(ptr @sleeper, ptr %args, i64 8, i8 1)
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp ult i64 %k1, 1000
  br i1 %more, label %spawn, label %spawned
spawned:
  %t0 = call i64 @now_us()
  store i64 0, ptr %i, align 8
  store i64 9223372036854775807, ptr %shortest, align 8
  br label %wait
wait:
  %q = load i64, ptr %i, align 8
  %m = call ptr @snow_actor_receive(i64 10000)
  %mm = call ptr @expect(ptr %m, i32 2)
  %sp = getelementptr i8, ptr %mm, i64 16
  %slept = load i64, ptr %sp, align 8
  %sh = load i64, ptr %shortest, align 8
  %less = icmp slt i64 %slept, %sh
  %sh1 = select i1 %less, i64 %slept, i64 %sh
  store i64 %sh1, ptr %shortest, align 8
  %q1 = add i64 %q, 1
  store i64 %q1, ptr %i, align 8
  call void @snow_reduction_check()
  %more2 = icmp ult i64 %q1, 1000
  br i1 %more2, label %wait, label %woke
woke:
  %t1 = call i64 @now_us()
  %last_dt = sub i64 %t1, %t0
  %shf = load i64, ptr %shortest, align 8
  %err = load ptr, ptr @stderr, align 8
  %pm = call i32 (ptr, ptr, ...) @fprintf(ptr %err, ptr @.fmt_many_measure, i64 %shf, i64 %last_dt)
  %not_early = icmp sge i64 %shf, 200000
  %in_time = icmp slt i64 %last_dt, 1500000
  %many_ok = and i1 %not_early, %in_time
  %yn = select i1 %many_ok, ptr @.yes, ptr @.no
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_many, ptr %yn)
  call void @snow_reduction_check()

  ; Timer.sleep(0), Timer.sleep(-5)
  %z0 = call i64 @now_us()
  call void @snow_timer_sleep(i64 0)
  call void @snow_timer_sleep(i64 -5)
  %z1 = call i64 @now_us()
  %zdt = sub i64 %z1, %z0
  %quick = icmp slt i64 %zdt, 50000
  %yn2 = select i1 %quick, ptr @.yes, ptr @.no
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_zero, ptr %yn2)
  %pe = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_napper, i64 6, ptr @napper)
  call void @snow_register_function(ptr @.name_sleeper, i64 7, ptr @sleeper)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
