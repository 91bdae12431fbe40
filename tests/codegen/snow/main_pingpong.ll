; main_pingpong.ll: Snow's e2e "main-thread ping-pong": snow_main and an
; actor exchange 100000 round trips (SNOWCG_ROUNDS overrides the count),
; then two actors do the same, so a CI log shows what a round trip from
; the main thread costs next to one between actors. Every reply must carry
; the number of its ping. The two "timing:" lines are printed to stdout
; but not compared (run_expect.cmake IGNORE); the rest is.
; Expected output: main_pingpong.expected.

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
declare ptr @getenv(ptr)
declare i64 @atol(ptr)
declare i32 @clock_gettime(i32, ptr)
declare void @_exit(i32) noreturn

@.name_echo = private unnamed_addr constant [4 x i8] c"echo"
@.name_pinger = private unnamed_addr constant [6 x i8] c"pinger"
@.env_rounds = private unnamed_addr constant [14 x i8] c"SNOWCG_ROUNDS\00"
@.fmt_main = private unnamed_addr constant [51 x i8] c"pingpong: main <-> actor, every reply matched: %s\0A\00"
@.fmt_actors = private unnamed_addr constant [52 x i8] c"pingpong: actor <-> actor, every reply matched: %s\0A\00"
@.fmt_time_main = private unnamed_addr constant [60 x i8] c"timing: main <-> actor round trip %ld ns (%ld round trips)\0A\00"
@.fmt_time_actors = private unnamed_addr constant [86 x i8] c"timing: actor <-> actor round trip %ld ns (%ld round trips); main / actors %ld.%02ld\0A\00"
@.fmt_missing = private unnamed_addr constant [36 x i8] c"pingpong: no pong for ping %ld (!)\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"
@.yes = private unnamed_addr constant [4 x i8] c"yes\00"
@.no = private unnamed_addr constant [3 x i8] c"no\00"

define i64 @now_ns() {
entry:
  %ts = alloca { i64, i64 }, align 8
  %r = call i32 @clock_gettime(i32 1, ptr %ts)
  %sp = getelementptr { i64, i64 }, ptr %ts, i64 0, i32 0
  %s = load i64, ptr %sp, align 8
  %nsp = getelementptr { i64, i64 }, ptr %ts, i64 0, i32 1
  %ns = load i64, ptr %nsp, align 8
  %ns1 = mul i64 %s, 1000000000
  %t = add i64 %ns1, %ns
  ret i64 %t
}

; actor echo: answers every [from][n] with [n]; [0][0] stops it.
define void @echo(ptr %args) {
entry:
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %fromp = getelementptr i8, ptr %m, i64 16
  %from = load i64, ptr %fromp, align 8
  %stop = icmp eq i64 %from, 0
  br i1 %stop, label %done, label %answer
answer:
  %np = getelementptr i8, ptr %m, i64 24
  %n = load i64, ptr %np, align 8
  %pong = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %n, ptr %pong, align 8
  call void @snow_actor_send(i64 %from, ptr %pong, i64 8)
  br label %loop
done:
  ret void
}

; rounds of ping-pong with echo `peer`; returns 1 if every pong carried
; its ping's number. The ping and pong buffers are allocated once.
define i64 @pingpong(i64 %peer, i64 %rounds) {
entry:
  %i = alloca i64, align 8
  %ok = alloca i64, align 8
  %self = call i64 @snow_actor_self()
  %ping = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %self, ptr %ping, align 8
  %np = getelementptr i8, ptr %ping, i64 8
  store i64 0, ptr %i, align 8
  store i64 1, ptr %ok, align 8
  br label %loop
loop:
  %k = load i64, ptr %i, align 8
  store i64 %k, ptr %np, align 8
  call void @snow_actor_send(i64 %peer, ptr %ping, i64 16)
  %m = call ptr @snow_actor_receive(i64 10000)
  %got = icmp ne ptr %m, null
  br i1 %got, label %check, label %missing
check:
  %vp = getelementptr i8, ptr %m, i64 16
  %v = load i64, ptr %vp, align 8
  %same = icmp eq i64 %v, %k
  %samew = zext i1 %same to i64
  %o = load i64, ptr %ok, align 8
  %o1 = and i64 %o, %samew
  store i64 %o1, ptr %ok, align 8
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp slt i64 %k1, %rounds
  br i1 %more, label %loop, label %done
missing:
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_missing, i64 %k)
  %f = call i32 @fflush(ptr null)
  call void @_exit(i32 1)
  unreachable
done:
  ; stop the echo
  store i64 0, ptr %ping, align 8
  call void @snow_actor_send(i64 %peer, ptr %ping, i64 16)
  %r = load i64, ptr %ok, align 8
  ret i64 %r
}

; actor pinger(main, rounds): ping-pong with its own echo, then sends main
; [ok][elapsed ns].
define void @pinger(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %rp = getelementptr i8, ptr %args, i64 8
  %rounds = load i64, ptr %rp, align 8
  %e = call i64 @snow_actor_spawn(ptr @echo, ptr null, i64 0, i8 1)
  %t0 = call i64 @now_ns()
  %ok = call i64 @pingpong(i64 %e, i64 %rounds)
  %t1 = call i64 @now_ns()
  %dt = sub i64 %t1, %t0
  %out = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %ok, ptr %out, align 8
  %dp = getelementptr i8, ptr %out, i64 8
  store i64 %dt, ptr %dp, align 8
  call void @snow_actor_send(i64 %main, ptr %out, i64 16)
  ret void
}

define i64 @rounds() {
entry:
  %env = call ptr @getenv(ptr @.env_rounds)
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
  %rounds = call i64 @rounds()
  %self = call i64 @snow_actor_self()

  ; snow_main <-> echo
  %e = call i64 @snow_actor_spawn(ptr @echo, ptr null, i64 0, i8 1)
  %t0 = call i64 @now_ns()
  %ok1 = call i64 @pingpong(i64 %e, i64 %rounds)
  %t1 = call i64 @now_ns()
  %dt1 = sub i64 %t1, %t0
  %per1 = sdiv i64 %dt1, %rounds
  %good1 = icmp eq i64 %ok1, 1
  %yn1 = select i1 %good1, ptr @.yes, ptr @.no
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_main, ptr %yn1)
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_time_main, i64 %per1, i64 %rounds)
  call void @snow_reduction_check()

  ; pinger <-> echo, both actors
  %args = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %self, ptr %args, align 8
  %rp = getelementptr i8, ptr %args, i64 8
  store i64 %rounds, ptr %rp, align 8
  %pg = call i64 @snow_actor_spawn(ptr @pinger, ptr %args, i64 16, i8 1)
  %m = call ptr @snow_actor_receive(i64 -1)
  %okp = getelementptr i8, ptr %m, i64 16
  %ok2 = load i64, ptr %okp, align 8
  %dtp = getelementptr i8, ptr %m, i64 24
  %dt2 = load i64, ptr %dtp, align 8
  %per2 = sdiv i64 %dt2, %rounds
  %good2 = icmp eq i64 %ok2, 1
  %yn2 = select i1 %good2, ptr @.yes, ptr @.no
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_actors, ptr %yn2)
  ; ratio main / actors with two decimals
  %den = icmp sgt i64 %per2, 0
  %per2nz = select i1 %den, i64 %per2, i64 1
  %r100 = mul i64 %per1, 100
  %ratio100 = sdiv i64 %r100, %per2nz
  %ri = sdiv i64 %ratio100, 100
  %rf = srem i64 %ratio100, 100
  %p4 = call i32 (ptr, ...) @printf(ptr @.fmt_time_actors, i64 %per2, i64 %rounds, i64 %ri, i64 %rf)
  %pe = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_echo, i64 4, ptr @echo)
  call void @snow_register_function(ptr @.name_pinger, i64 6, ptr @pinger)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
