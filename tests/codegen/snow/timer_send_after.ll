; timer_send_after.ll: Snow's e2e "Timer.send_after" (and cancel):
; snow_timer_send_after(pid, ms, msg, size) copies the message when called
; and delivers it after ms (no earlier, within 500 ms of slack); timers
; fire in deadline order whatever order they were set in; a timer
; cancelled before it fires (cancel returns 0) never delivers, a second
; cancel and a cancel after firing return 1; a timer can target another
; actor. Measurements go to stderr, verdicts to stdout.
; Expected output: timer_send_after.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare i64 @snow_timer_send_after(i64, i64, ptr, i64)
declare i64 @snow_timer_cancel(i64)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare i32 @printf(ptr, ...)
declare i32 @fprintf(ptr, ptr, ...)
declare i32 @fflush(ptr)
declare i32 @clock_gettime(i32, ptr)
declare void @_exit(i32) noreturn
@stderr = external global ptr

@.name_target = private unnamed_addr constant [6 x i8] c"target"
@.fmt_arrived = private unnamed_addr constant [38 x i8] c"send_after 50 ms to self: arrived %s\0A\00"
@.fmt_measure = private unnamed_addr constant [40 x i8] c"send_after 50 ms: arrived after %ld us\0A\00"
@.on_time = private unnamed_addr constant [8 x i8] c"on time\00"
@.early = private unnamed_addr constant [10 x i8] c"early (!)\00"
@.late = private unnamed_addr constant [9 x i8] c"late (!)\00"
@.fmt_order = private unnamed_addr constant [65 x i8] c"three timers (90, 30, 60 ms) arrived in this order: %ld %ld %ld\0A\00"
@.fmt_copied = private unnamed_addr constant [47 x i8] c"send_after copies the message when called: %s\0A\00"
@.fmt_cancel = private unnamed_addr constant [55 x i8] c"cancel before firing: %ld, its message never came: %s\0A\00"
@.fmt_cancel2 = private unnamed_addr constant [45 x i8] c"cancel again: %ld, cancel after firing: %ld\0A\00"
@.fmt_target = private unnamed_addr constant [33 x i8] c"send_after to an actor: got %ld\0A\00"
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

; Timer.send_after(pid, ms, v) for an Int message.
define i64 @send_after_int(i64 %pid, i64 %ms, i64 %v) {
entry:
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %v, ptr %m, align 8
  %t = call i64 @snow_timer_send_after(i64 %pid, i64 %ms, ptr %m, i64 8)
  ret i64 %t
}

define i64 @receive_int(i64 %timeout, i32 %step) {
entry:
  %m = call ptr @snow_actor_receive(i64 %timeout)
  %a = call ptr @expect(ptr %m, i32 %step)
  %vp = getelementptr i8, ptr %a, i64 16
  %v = load i64, ptr %vp, align 8
  ret i64 %v
}

; actor target(main): forwards the first Int it gets to main.
define void @target(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %v = call i64 @receive_int(i64 5000, i32 10)
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %v, ptr %m, align 8
  call void @snow_actor_send(i64 %main, ptr %m, i64 8)
  ret void
}

define void @snow_main() {
entry:
  %self = call i64 @snow_actor_self()

  ; one timer, timed
  %t0 = call i64 @now_us()
  %r1 = call i64 @send_after_int(i64 %self, i64 50, i64 1)
  %v1 = call i64 @receive_int(i64 2000, i32 1)
  %t1 = call i64 @now_us()
  %dt = sub i64 %t1, %t0
  %err = load ptr, ptr @stderr, align 8
  %pm = call i32 (ptr, ptr, ...) @fprintf(ptr %err, ptr @.fmt_measure, i64 %dt)
  %is_early = icmp slt i64 %dt, 50000
  %is_late = icmp sgt i64 %dt, 550000
  %w1 = select i1 %is_late, ptr @.late, ptr @.on_time
  %w2 = select i1 %is_early, ptr @.early, ptr %w1
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_arrived, ptr %w2)
  call void @snow_reduction_check()

  ; deadline order
  %ra = call i64 @send_after_int(i64 %self, i64 90, i64 90)
  %rb = call i64 @send_after_int(i64 %self, i64 30, i64 30)
  %rc = call i64 @send_after_int(i64 %self, i64 60, i64 60)
  %o1 = call i64 @receive_int(i64 2000, i32 2)
  %o2 = call i64 @receive_int(i64 2000, i32 3)
  %o3 = call i64 @receive_int(i64 2000, i32 4)
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_order, i64 %o1, i64 %o2, i64 %o3)
  call void @snow_reduction_check()

  ; the bytes are copied at the call
  %buf = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 11, ptr %buf, align 8
  %rcopy = call i64 @snow_timer_send_after(i64 %self, i64 10, ptr %buf, i64 8)
  store i64 12, ptr %buf, align 8
  %vc = call i64 @receive_int(i64 2000, i32 5)
  %copied = icmp eq i64 %vc, 11
  %yn1 = select i1 %copied, ptr @.yes, ptr @.no
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_copied, ptr %yn1)
  call void @snow_reduction_check()

  ; cancel: the cancelled 30 ms timer never delivers; the 80 ms one does
  %rx = call i64 @send_after_int(i64 %self, i64 30, i64 5)
  %c1 = call i64 @snow_timer_cancel(i64 %rx)
  %ry = call i64 @send_after_int(i64 %self, i64 80, i64 6)
  %vy = call i64 @receive_int(i64 2000, i32 6)
  %poll = call ptr @snow_actor_receive(i64 0)
  %is6 = icmp eq i64 %vy, 6
  %empty = icmp eq ptr %poll, null
  %never = and i1 %is6, %empty
  %yn2 = select i1 %never, ptr @.yes, ptr @.no
  %p4 = call i32 (ptr, ...) @printf(ptr @.fmt_cancel, i64 %c1, ptr %yn2)
  %c2 = call i64 @snow_timer_cancel(i64 %rx)
  %c3 = call i64 @snow_timer_cancel(i64 %ry)
  %p5 = call i32 (ptr, ...) @printf(ptr @.fmt_cancel2, i64 %c2, i64 %c3)
  call void @snow_reduction_check()

  ; to another actor
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %self, ptr %args, align 8
  %tp = call i64 @snow_actor_spawn(ptr @target, ptr %args, i64 8, i8 1)
  %rt = call i64 @send_after_int(i64 %tp, i64 20, i64 42)
  %vt = call i64 @receive_int(i64 5000, i32 7)
  %p6 = call i32 (ptr, ...) @printf(ptr @.fmt_target, i64 %vt)
  %pe = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_target, i64 6, ptr @target)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
