; preemption.ll: Snow's e2e "preemption": two actors in endless busy loops
; whose only runtime call is the reduction check at the back-edge (as the
; compiler emits it) must not starve a third actor: pings from main to it
; come back, typically in under 10 ms. There are as many busy actors as
; two-CPU machines have workers, so the ponger only runs if the busy loops
; are preempted at their reduction checks.
;
; Main sends 21 pings one after the other and counts those answered within
; 10 ms; it passes when more than half are (the median is under 10 ms: a
; loaded machine may delay one ping, a runtime that cannot preempt or that
; wakes the main thread slowly delays them all), and fails at once if any
; ping goes unanswered for 2 s. The counts and the slowest round trip go to
; stderr; stdout holds only the pass/fail line.
; Expected output: preemption.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare void @snow_actor_exit(i64, i8)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare i32 @printf(ptr, ...)
declare i32 @fprintf(ptr, ptr, ...)
declare i32 @fflush(ptr)
declare i32 @clock_gettime(i32, ptr)
declare void @_exit(i32) noreturn
@stderr = external global ptr

@.name_busy = private unnamed_addr constant [4 x i8] c"busy"
@.name_ponger = private unnamed_addr constant [6 x i8] c"ponger"
@.fmt_pass = private unnamed_addr constant [56 x i8] c"preemption: pings answered under two busy actors: pass\0A\00"
@.fmt_fail = private unnamed_addr constant [78 x i8] c"preemption: only %ld of 21 pings answered within 10 ms under two busy actors\0A\00"
@.fmt_starved = private unnamed_addr constant [47 x i8] c"preemption: ping %ld unanswered for 2 s: fail\0A\00"
@.fmt_nostart = private unnamed_addr constant [39 x i8] c"preemption: busy actors did not start\0A\00"
@.fmt_stats = private unnamed_addr constant [69 x i8] c"preemption: %ld of 21 pings within 10 ms, slowest %ld us, total %ld\0A\00"
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

define void @fail(ptr %fmt, i64 %v) noreturn {
entry:
  %p = call i32 (ptr, ...) @printf(ptr %fmt, i64 %v)
  %f = call i32 @fflush(ptr null)
  call void @_exit(i32 1)
  unreachable
}

; actor busy(main): says it started, then loops forever doing arithmetic;
; its only runtime call is the reduction check at the back-edge.
define void @busy(ptr %args) {
entry:
  %acc = alloca i64, align 8
  %main = load i64, ptr %args, align 8
  %msg = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 1, ptr %msg, align 8
  call void @snow_actor_send(i64 %main, ptr %msg, i64 8)
  store i64 1, ptr %acc, align 8
  br label %loop
loop:
  %a = load volatile i64, ptr %acc, align 8
  %b = mul i64 %a, 6364136223846793005
  %c = add i64 %b, 1442695040888963407
  store volatile i64 %c, ptr %acc, align 8
  call void @snow_reduction_check()
  br label %loop
}

; actor ponger: answers every [from][n] with [n].
define void @ponger(ptr %args) {
entry:
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %fromp = getelementptr i8, ptr %m, i64 16
  %from = load i64, ptr %fromp, align 8
  %np = getelementptr i8, ptr %m, i64 24
  %n = load i64, ptr %np, align 8
  %pong = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %n, ptr %pong, align 8
  call void @snow_actor_send(i64 %from, ptr %pong, i64 8)
  br label %loop
}

define void @snow_main() {
entry:
  %k = alloca i64, align 8
  %fast = alloca i64, align 8
  %slowest = alloca i64, align 8
  %self = call i64 @snow_actor_self()
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %self, ptr %args, align 8
  %b1 = call i64 @snow_actor_spawn(ptr @busy, ptr %args, i64 8, i8 1)
  %b2 = call i64 @snow_actor_spawn(ptr @busy, ptr %args, i64 8, i8 1)
  %s1 = call ptr @snow_actor_receive(i64 5000)
  %s2 = call ptr @snow_actor_receive(i64 5000)
  %s1ok = icmp ne ptr %s1, null
  %s2ok = icmp ne ptr %s2, null
  %started = and i1 %s1ok, %s2ok
  br i1 %started, label %spawn_ponger, label %nostart
nostart:
  call void @fail(ptr @.fmt_nostart, i64 0)
  unreachable
spawn_ponger:
  %pp = call i64 @snow_actor_spawn(ptr @ponger, ptr null, i64 0, i8 1)
  store i64 0, ptr %k, align 8
  store i64 0, ptr %fast, align 8
  store i64 0, ptr %slowest, align 8
  br label %ping
ping:
  %n = load i64, ptr %k, align 8
  %msg = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %self, ptr %msg, align 8
  %np = getelementptr i8, ptr %msg, i64 8
  store i64 %n, ptr %np, align 8
  %t0 = call i64 @now_us()
  call void @snow_actor_send(i64 %pp, ptr %msg, i64 16)
  %pong = call ptr @snow_actor_receive(i64 2000)
  %t1 = call i64 @now_us()
  %answered = icmp ne ptr %pong, null
  br i1 %answered, label %time, label %starved
starved:
  call void @fail(ptr @.fmt_starved, i64 %n)
  unreachable
time:
  %dt = sub i64 %t1, %t0
  %under = icmp slt i64 %dt, 10000
  %underw = zext i1 %under to i64
  %f = load i64, ptr %fast, align 8
  %f1 = add i64 %f, %underw
  store i64 %f1, ptr %fast, align 8
  %sl = load i64, ptr %slowest, align 8
  %slower = icmp sgt i64 %dt, %sl
  %sl1 = select i1 %slower, i64 %dt, i64 %sl
  store i64 %sl1, ptr %slowest, align 8
  %n1 = add i64 %n, 1
  store i64 %n1, ptr %k, align 8
  call void @snow_reduction_check()
  %more = icmp slt i64 %n1, 21
  br i1 %more, label %ping, label %judge
judge:
  %fast_n = load i64, ptr %fast, align 8
  %slow_us = load i64, ptr %slowest, align 8
  %err = load ptr, ptr @stderr, align 8
  %ps = call i32 (ptr, ptr, ...) @fprintf(ptr %err, ptr @.fmt_stats, i64 %fast_n, i64 %slow_us, i64 21)
  %pass = icmp sgt i64 %fast_n, 10
  br i1 %pass, label %passed, label %failed
failed:
  call void @fail(ptr @.fmt_fail, i64 %fast_n)
  unreachable
passed:
  %pp1 = call i32 (ptr, ...) @printf(ptr @.fmt_pass)
  ; The busy loops never end by themselves: kill them (the kill takes
  ; effect at their next reduction checks). The ponger waits forever and
  ; is ended with shutdown once main returns.
  call void @snow_actor_exit(i64 %b1, i8 2)
  call void @snow_actor_exit(i64 %b2, i8 2)
  %pe = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_busy, i64 4, ptr @busy)
  call void @snow_register_function(ptr @.name_ponger, i64 6, ptr @ponger)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
