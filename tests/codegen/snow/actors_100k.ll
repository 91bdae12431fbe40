; actors_100k.ll: Snow's e2e "100k actors": main spawns 100000 actors
; (SNOWCG_ACTORS overrides the count: TSan builds spawn far fewer), each
; with [main][i] as its arguments; each sends [i] back and returns. Main
; counts the replies and checks that every i arrived exactly once (a bitmap
; in its heap), then that the sum is right.
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
declare ptr @getenv(ptr)
declare i64 @atol(ptr)

@.name_replier = private unnamed_addr constant [7 x i8] c"replier"
@.env_actors = private unnamed_addr constant [14 x i8] c"SNOWCG_ACTORS\00"
@.fmt_spawned = private unnamed_addr constant [39 x i8] c"spawned every actor: %s (0 pids: %ld)\0A\00"
@.fmt_counted = private unnamed_addr constant [46 x i8] c"replies: one from each actor: %s, sum ok: %s\0A\00"
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

define i64 @actor_count() {
entry:
  %env = call ptr @getenv(ptr @.env_actors)
  %set = icmp ne ptr %env, null
  br i1 %set, label %parse, label %default
parse:
  %n = call i64 @atol(ptr %env)
  %pos = icmp sgt i64 %n, 0
  %r = select i1 %pos, i64 %n, i64 100000
  ret i64 %r
default:
  ret i64 100000
}

define void @snow_main() {
entry:
  %i = alloca i64, align 8
  %zero = alloca i64, align 8
  %distinct = alloca i64, align 8
  %sum = alloca i64, align 8
  %count = call i64 @actor_count()
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
  %more = icmp ult i64 %k1, %count
  br i1 %more, label %spawn, label %spawned
spawned:
  %zf = load i64, ptr %zero, align 8
  %all_spawned = icmp eq i64 %zf, 0
  %ys = select i1 %all_spawned, ptr @.yes, ptr @.no
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_spawned, ptr %ys, i64 %zf)
  %seen = call ptr @snow_gc_alloc_actor(i64 %count, i64 8)
  store i64 0, ptr %i, align 8
  store i64 0, ptr %distinct, align 8
  store i64 0, ptr %sum, align 8
  br label %wait
wait:
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
  %in_range = icmp ult i64 %v, %count
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
  %more2 = icmp ult i64 %n1, %count
  br i1 %more2, label %wait, label %counted
missing:
  %pm = call i32 (ptr, ...) @printf(ptr @.fmt_missing, i64 %n)
  %f = call i32 @fflush(ptr null)
  call void @_exit(i32 1)
  unreachable
counted:
  %df = load i64, ptr %distinct, align 8
  %sf = load i64, ptr %sum, align 8
  ; 0 + 1 + ... + (count - 1)
  %cm1 = sub i64 %count, 1
  %prod = mul i64 %count, %cm1
  %want = udiv i64 %prod, 2
  %each_once = icmp eq i64 %df, %count
  %sum_ok = icmp eq i64 %sf, %want
  %y1 = select i1 %each_once, ptr @.yes, ptr @.no
  %y2 = select i1 %sum_ok, ptr @.yes, ptr @.no
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_counted, ptr %y1, ptr %y2)
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
