; receive_after.ll: Snow's e2e "receive with after": `receive ... after T`
; is snow_actor_receive(T) and a NULL check. In an actor and in main: a
; timeout fires on time by itself (no earlier than T, and not much later:
; within 500 ms of slack, with nothing else happening in the runtime); a
; message that arrives before the timeout wins and the timeout leaves no
; trace (the next poll is empty, the next timeout is on time again);
; `after 0` polls. Measurements go to stderr, verdicts to stdout.
; Expected output: receive_after.expected.

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

@.name_waiter = private unnamed_addr constant [6 x i8] c"waiter"
@.name_late = private unnamed_addr constant [11 x i8] c"late_sender"
@.who_actor = private unnamed_addr constant [6 x i8] c"actor\00"
@.who_main = private unnamed_addr constant [5 x i8] c"main\00"
@.fmt_timeout = private unnamed_addr constant [35 x i8] c"%s: timeout after %ld ms fired %s\0A\00"
@.fmt_measure = private unnamed_addr constant [38 x i8] c"%s: after %ld ms: returned in %ld us\0A\00"
@.on_time = private unnamed_addr constant [8 x i8] c"on time\00"
@.early = private unnamed_addr constant [10 x i8] c"early (!)\00"
@.late = private unnamed_addr constant [9 x i8] c"late (!)\00"
@.never = private unnamed_addr constant [26 x i8] c"never: a message came (!)\00"
@.fmt_won = private unnamed_addr constant [60 x i8] c"actor: message sent after 20 ms beat a 2000 ms timeout: %s\0A\00"
@.fmt_poll = private unnamed_addr constant [27 x i8] c"%s: poll (after 0) %s: %s\0A\00"
@.empty_mb = private unnamed_addr constant [20 x i8] c"on an empty mailbox\00"
@.full_mb = private unnamed_addr constant [15 x i8] c"with a message\00"
@.empty = private unnamed_addr constant [6 x i8] c"empty\00"
@.got_it = private unnamed_addr constant [7 x i8] c"got it\00"
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

; receive ... after ms -> :timeout, checked and printed as "<who>: timeout
; after <ms> ms fired on time|early|late|never".
define void @timeout_on_time(ptr %who, i64 %ms) {
entry:
  %t0 = call i64 @now_us()
  %m = call ptr @snow_actor_receive(i64 %ms)
  %t1 = call i64 @now_us()
  %dt = sub i64 %t1, %t0
  %err = load ptr, ptr @stderr, align 8
  %pm = call i32 (ptr, ptr, ...) @fprintf(ptr %err, ptr @.fmt_measure, ptr %who, i64 %ms, i64 %dt)
  %lo = mul i64 %ms, 1000
  %hi = add i64 %lo, 500000
  %timed_out = icmp eq ptr %m, null
  %is_early = icmp slt i64 %dt, %lo
  %is_late = icmp sgt i64 %dt, %hi
  %v1 = select i1 %is_late, ptr @.late, ptr @.on_time
  %v2 = select i1 %is_early, ptr @.early, ptr %v1
  %v3 = select i1 %timed_out, ptr %v2, ptr @.never
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_timeout, ptr %who, i64 %ms, ptr %v3)
  ret void
}

define void @print_poll(ptr %who, ptr %what, ptr %m) {
entry:
  %got = icmp ne ptr %m, null
  %r = select i1 %got, ptr @.got_it, ptr @.empty
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_poll, ptr %who, ptr %what, ptr %r)
  ret void
}

; actor late_sender(target, ms): Timer.sleep(ms); send target, 7
define void @late_sender(ptr %args) {
entry:
  %target = load i64, ptr %args, align 8
  %msp = getelementptr i8, ptr %args, i64 8
  %ms = load i64, ptr %msp, align 8
  call void @snow_timer_sleep(i64 %ms)
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 7, ptr %m, align 8
  call void @snow_actor_send(i64 %target, ptr %m, i64 8)
  ret void
}

; actor waiter(main): the actor cases; prints its own lines (main waits
; for its final message, so the output order is fixed).
define void @waiter(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  call void @timeout_on_time(ptr @.who_actor, i64 100)
  call void @snow_reduction_check()

  ; a message 20 ms from now against after 2000
  %self = call i64 @snow_actor_self()
  %largs = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %self, ptr %largs, align 8
  %msp = getelementptr i8, ptr %largs, i64 8
  store i64 20, ptr %msp, align 8
  %l = call i64 @snow_actor_spawn(ptr @late_sender, ptr %largs, i64 16, i8 1)
  %t0 = call i64 @now_us()
  %m = call ptr @snow_actor_receive(i64 2000)
  %t1 = call i64 @now_us()
  %dt = sub i64 %t1, %t0
  %got = icmp ne ptr %m, null
  br i1 %got, label %check_value, label %report_won
check_value:
  %vp = getelementptr i8, ptr %m, i64 16
  %v = load i64, ptr %vp, align 8
  %is7 = icmp eq i64 %v, 7
  br label %report_won
report_won:
  %won0 = phi i1 [ false, %entry ], [ %is7, %check_value ]
  %quick = icmp slt i64 %dt, 2000000
  %won = and i1 %won0, %quick
  %yn = select i1 %won, ptr @.yes, ptr @.no
  %pw = call i32 (ptr, ...) @printf(ptr @.fmt_won, ptr %yn)
  %poll = call ptr @snow_actor_receive(i64 0)
  call void @print_poll(ptr @.who_actor, ptr @.empty_mb, ptr %poll)
  call void @timeout_on_time(ptr @.who_actor, i64 50)

  %done = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 1, ptr %done, align 8
  call void @snow_actor_send(i64 %main, ptr %done, i64 8)
  ret void
}

define void @snow_main() {
entry:
  %self = call i64 @snow_actor_self()
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %self, ptr %args, align 8
  %w = call i64 @snow_actor_spawn(ptr @waiter, ptr %args, i64 8, i8 1)
  %wd = call ptr @snow_actor_receive(i64 10000)
  %wd_ok = call ptr @expect(ptr %wd, i32 1)
  call void @snow_reduction_check()

  ; the same on the main process
  call void @timeout_on_time(ptr @.who_main, i64 100)
  %poll1 = call ptr @snow_actor_receive(i64 0)
  call void @print_poll(ptr @.who_main, ptr @.empty_mb, ptr %poll1)
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 9, ptr %m, align 8
  call void @snow_actor_send(i64 %self, ptr %m, i64 8)
  %poll2 = call ptr @snow_actor_receive(i64 0)
  call void @print_poll(ptr @.who_main, ptr @.full_mb, ptr %poll2)
  %pe = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_waiter, i64 6, ptr @waiter)
  call void @snow_register_function(ptr @.name_late, i64 11, ptr @late_sender)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
