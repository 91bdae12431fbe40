; gc_actors_churn.ll: 10,000 actors churn garbage at the same time (issue
; 11). Each keeps a three-node list in its stack or registers while it
; allocates 2,500 objects of 64 bytes that die at once (more than one time
; slice, so they are all mid-churn together and the stack slots they share
; are copied in and out), then checks its list and reports to main. Every
; list must read 6, and the process's maximum resident size must stay under
; 256 MB (1.6 GB of garbage in all; SNOWCG_ACTORS and SNOWCG_RSS_LIMIT_MB
; scale the sanitizer runs). The measured size goes to a line left out of
; the comparison.
; Expected output: gc_actors_churn.expected.

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
declare i32 @getrusage(i32, ptr)
declare ptr @getenv(ptr)
declare i64 @atol(ptr)
declare i32 @printf(ptr, ...)
declare i32 @fflush(ptr)
declare void @_exit(i32) noreturn

@.name_churner = private unnamed_addr constant [7 x i8] c"churner"
@.env_actors = private unnamed_addr constant [14 x i8] c"SNOWCG_ACTORS\00"
@.env_limit = private unnamed_addr constant [20 x i8] c"SNOWCG_RSS_LIMIT_MB\00"
@.fmt_intact = private unnamed_addr constant [54 x i8] c"gc_actors_churn: every actor's kept list reads 6: %s\0A\00"
@.fmt_rss = private unnamed_addr constant [46 x i8] c"gc_actors_churn: max RSS under the limit: %s\0A\00"
@.fmt_measured = private unnamed_addr constant [46 x i8] c"rss: %ld actors, max %ld KiB (limit %ld MiB)\0A\00"
@.fmt_missing = private unnamed_addr constant [33 x i8] c"main: %ld actors did not answer\0A\00"
@.yes = private unnamed_addr constant [4 x i8] c"yes\00"
@.no = private unnamed_addr constant [3 x i8] c"no\00"

define ptr @node_new(ptr %next, i64 %value, i64 %size) {
entry:
  %n = call ptr @snow_gc_alloc_actor(i64 %size, i64 8)
  store ptr %next, ptr %n, align 8
  %vp = getelementptr i8, ptr %n, i64 8
  store i64 %value, ptr %vp, align 8
  %lo = sub i64 %size, 8
  %lp = getelementptr i8, ptr %n, i64 %lo
  store i64 %value, ptr %lp, align 8
  ret ptr %n
}
define i64 @list_check(ptr %l, i64 %size) {
entry:
  %lo = sub i64 %size, 8
  br label %loop
loop:
  %p = phi ptr [ %l, %entry ], [ %next, %body ]
  %acc = phi i64 [ 0, %entry ], [ %acc2, %body ]
  %end = icmp eq ptr %p, null
  br i1 %end, label %out, label %body
body:
  %vp = getelementptr i8, ptr %p, i64 8
  %v = load i64, ptr %vp, align 8
  %lp = getelementptr i8, ptr %p, i64 %lo
  %lv = load i64, ptr %lp, align 8
  %same = icmp eq i64 %v, %lv
  %bad = select i1 %same, i64 0, i64 1000000
  %acc1 = add i64 %acc, %v
  %acc2 = add i64 %acc1, %bad
  %next = load ptr, ptr %p, align 8
  br label %loop
out:
  ret i64 %acc
}
define i64 @max_rss_kib() {
entry:
  %ru = alloca [144 x i8], align 8
  %r = call i32 @getrusage(i32 0, ptr %ru)
  %p = getelementptr i8, ptr %ru, i64 32
  %v = load i64, ptr %p, align 8
  ret i64 %v
}
define i64 @env_or(ptr %name, i64 %default) {
entry:
  %s = call ptr @getenv(ptr %name)
  %has = icmp ne ptr %s, null
  br i1 %has, label %yes, label %no
yes:
  %v = call i64 @atol(ptr %s)
  ret i64 %v
no:
  ret i64 %default
}

; actor churner(main): keeps a three-node list, allocates 2,500 64-byte
; objects that die at once, sends main its list's sum.
define void @churner(ptr %args) {
entry:
  %i = alloca i64, align 8
  %main = load i64, ptr %args, align 8
  %a = call ptr @node_new(ptr null, i64 1, i64 64)
  %b = call ptr @node_new(ptr %a, i64 2, i64 64)
  %kept = call ptr @node_new(ptr %b, i64 3, i64 64)
  store i64 0, ptr %i, align 8
  br label %loop
loop:
  %k = load i64, ptr %i, align 8
  %g = call ptr @node_new(ptr null, i64 %k, i64 64)
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp ult i64 %k1, 2500
  br i1 %more, label %loop, label %done
done:
  %sum = call i64 @list_check(ptr %kept, i64 64)
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %sum, ptr %m, align 8
  call void @snow_actor_send(i64 %main, ptr %m, i64 8)
  ret void
}

define void @snow_main() {
entry:
  %i = alloca i64, align 8
  %good = alloca i64, align 8
  %self = call i64 @snow_actor_self()
  %n = call i64 @env_or(ptr @.env_actors, i64 10000)
  %limit = call i64 @env_or(ptr @.env_limit, i64 256)
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %self, ptr %args, align 8
  store i64 0, ptr %i, align 8
  br label %spawn
spawn:
  %k = load i64, ptr %i, align 8
  %c = call i64 @snow_actor_spawn(ptr @churner, ptr %args, i64 8, i8 1)
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp ult i64 %k1, %n
  br i1 %more, label %spawn, label %collect
collect:
  store i64 0, ptr %i, align 8
  store i64 0, ptr %good, align 8
  br label %wait
wait:
  %j = load i64, ptr %i, align 8
  %m = call ptr @snow_actor_receive(i64 60000)
  %got = icmp ne ptr %m, null
  br i1 %got, label %count, label %missing
count:
  %sp = getelementptr i8, ptr %m, i64 16
  %sum = load i64, ptr %sp, align 8
  %is6 = icmp eq i64 %sum, 6
  %one = zext i1 %is6 to i64
  %g = load i64, ptr %good, align 8
  %g1 = add i64 %g, %one
  store i64 %g1, ptr %good, align 8
  %j1 = add i64 %j, 1
  store i64 %j1, ptr %i, align 8
  %left = icmp ult i64 %j1, %n
  br i1 %left, label %wait, label %report
report:
  %rss = call i64 @max_rss_kib()
  %gf = load i64, ptr %good, align 8
  %all = icmp eq i64 %gf, %n
  %yn1 = select i1 %all, ptr @.yes, ptr @.no
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_intact, ptr %yn1)
  %limit_kib = mul i64 %limit, 1024
  %under = icmp ult i64 %rss, %limit_kib
  %yn2 = select i1 %under, ptr @.yes, ptr @.no
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_rss, ptr %yn2)
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_measured, i64 %n, i64 %rss, i64 %limit)
  ret void
missing:
  %jm = load i64, ptr %i, align 8
  %lost = sub i64 %n, %jm
  %p4 = call i32 (ptr, ...) @printf(ptr @.fmt_missing, i64 %lost)
  %f = call i32 @fflush(ptr null)
  call void @_exit(i32 1)
  unreachable
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_churner, i64 7, ptr @churner)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
