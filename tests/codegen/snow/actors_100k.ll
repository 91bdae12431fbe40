; actors_100k.ll: Snow's e2e "100k actors": main spawns 100000 actors,
; each with [main][i] as its arguments; each sends [i] back and returns.
; Main counts the replies and checks that every i arrived exactly once
; (a bitmap in its heap), then that the sum is right.
; Expected output: actors_100k.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare i32 @printf(ptr, ...)
declare i32 @fflush(ptr)
declare void @_exit(i32) noreturn

@.name_replier = private unnamed_addr constant [7 x i8] c"replier"
@.fmt_spawned = private unnamed_addr constant [34 x i8] c"spawned %ld actors (0 pids: %ld)\0A\00"
@.fmt_counted = private unnamed_addr constant [41 x i8] c"replies: %ld, distinct: %ld, sum ok: %s\0A\00"
@.fmt_missing = private unnamed_addr constant [44 x i8] c"main: only %ld replies before the deadline\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"
@.yes = private unnamed_addr constant [4 x i8] c"yes\00"
@.no = private unnamed_addr constant [3 x i8] c"no\00"

; actor replier(main, i): send main, i
define void @replier(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %ip = getelementptr i8, ptr %args, i64 8
  %i = load i64, ptr %ip, align 8
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %i, ptr %m, align 8
  call void @snow_actor_send(i64 %main, ptr %m, i64 8)
  ret void
}

define void @snow_main() {
entry:
  %i = alloca i64, align 8
  %zero = alloca i64, align 8
  %distinct = alloca i64, align 8
  %sum = alloca i64, align 8
  %self = call i64 @snow_actor_self()
  %args = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %self, ptr %args, align 8
  %ip = getelementptr i8, ptr %args, i64 8
  store i64 0, ptr %i, align 8
  store i64 0, ptr %zero, align 8
  br label %spawn
spawn:
  %k = load i64, ptr %i, align 8
  store i64 %k, ptr %ip, align 8
  %pid = call i64 @snow_actor_spawn(ptr @replier, ptr %args, i64 16, i8 1)
  %failed = icmp eq i64 %pid, 0
  %fw = zext i1 %failed to i64
  %z = load i64, ptr %zero, align 8
  %z1 = add i64 %z, %fw
  store i64 %z1, ptr %zero, align 8
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp ult i64 %k1, 100000
  br i1 %more, label %spawn, label %spawned
spawned:
  %zf = load i64, ptr %zero, align 8
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_spawned, i64 %k1, i64 %zf)
  %seen = call ptr @snow_gc_alloc_actor(i64 100000, i64 8)
  store i64 0, ptr %i, align 8
  store i64 0, ptr %distinct, align 8
  store i64 0, ptr %sum, align 8
  br label %count
count:
  %n = load i64, ptr %i, align 8
  %m = call ptr @snow_actor_receive(i64 10000)
  %got = icmp ne ptr %m, null
  br i1 %got, label %record, label %missing
record:
  %vp = getelementptr i8, ptr %m, i64 16
  %v = load i64, ptr %vp, align 8
  %s = load i64, ptr %sum, align 8
  %s1 = add i64 %s, %v
  store i64 %s1, ptr %sum, align 8
  %in_range = icmp ult i64 %v, 100000
  %idx = select i1 %in_range, i64 %v, i64 0
  %slot = getelementptr i8, ptr %seen, i64 %idx
  %was = load i8, ptr %slot, align 1
  %fresh = icmp eq i8 %was, 0
  %fresh_ok = and i1 %fresh, %in_range
  %fw2 = zext i1 %fresh_ok to i64
  %d = load i64, ptr %distinct, align 8
  %d1 = add i64 %d, %fw2
  store i64 %d1, ptr %distinct, align 8
  store i8 1, ptr %slot, align 1
  %n1 = add i64 %n, 1
  store i64 %n1, ptr %i, align 8
  call void @snow_reduction_check()
  %more2 = icmp ult i64 %n1, 100000
  br i1 %more2, label %count, label %counted
missing:
  %pm = call i32 (ptr, ...) @printf(ptr @.fmt_missing, i64 %n)
  %f = call i32 @fflush(ptr null)
  call void @_exit(i32 1)
  unreachable
counted:
  %nf = load i64, ptr %i, align 8
  %df = load i64, ptr %distinct, align 8
  %sf = load i64, ptr %sum, align 8
  ; 0 + 1 + ... + 99999
  %sum_ok = icmp eq i64 %sf, 4999950000
  %yn = select i1 %sum_ok, ptr @.yes, ptr @.no
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_counted, i64 %nf, i64 %df, ptr %yn)
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_replier, i64 7, ptr @replier)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
