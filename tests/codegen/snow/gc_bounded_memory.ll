; gc_bounded_memory.ll: Snow's e2e "gc_bounded_memory" (issue 11): one actor
; allocates 500,000 short-lived 1 KiB objects (500 MB in all) while it keeps
; a small list alive, the way compiled code does: every value from
; snow_gc_alloc_actor, a reduction check on every back-edge, the kept list
; only in the actor's stack or registers. The collected heap must keep the
; process's maximum resident size under 64 MB (SNOWCG_RSS_LIMIT_MB: the
; sanitizer builds, whose runtimes alone take more) and the kept list
; intact. The measured size is printed on a line left out of the comparison.
; Expected output: gc_bounded_memory.expected.

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
@.env_allocs = private unnamed_addr constant [14 x i8] c"SNOWCG_ALLOCS\00"
@.env_limit = private unnamed_addr constant [20 x i8] c"SNOWCG_RSS_LIMIT_MB\00"
@.fmt_sum = private unnamed_addr constant [56 x i8] c"gc_bounded_memory: the kept list reads 1 + 2 + 3 = %ld\0A\00"
@.fmt_rss = private unnamed_addr constant [48 x i8] c"gc_bounded_memory: max RSS under the limit: %s\0A\00"
@.fmt_measured = private unnamed_addr constant [34 x i8] c"rss: max %ld KiB (limit %ld MiB)\0A\00"
@.fmt_missing = private unnamed_addr constant [34 x i8] c"main: the churner did not answer\0A\00"
@.yes = private unnamed_addr constant [4 x i8] c"yes\00"
@.no = private unnamed_addr constant [3 x i8] c"no\00"

; An object of `size` bytes: [next][value] ... [value again in its last word].
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

; The sum of a list's values; 1,000,000 more for every node whose last word
; no longer matches its value (reclaimed and reused memory).
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

; The process's maximum resident set so far, in KiB (getrusage ru_maxrss).
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

; actor churner(main, n): keeps a three-node list, allocates n 1 KiB
; objects that die at once, then sends main [list sum][max RSS KiB].
define void @churner(ptr %args) {
entry:
  %i = alloca i64, align 8
  %main = load i64, ptr %args, align 8
  %np = getelementptr i8, ptr %args, i64 8
  %n = load i64, ptr %np, align 8
  %a = call ptr @node_new(ptr null, i64 1, i64 1024)
  %b = call ptr @node_new(ptr %a, i64 2, i64 1024)
  %kept = call ptr @node_new(ptr %b, i64 3, i64 1024)
  store i64 0, ptr %i, align 8
  br label %loop
loop:
  %k = load i64, ptr %i, align 8
  %g = call ptr @node_new(ptr null, i64 %k, i64 1024)
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp ult i64 %k1, %n
  br i1 %more, label %loop, label %done
done:
  %sum = call i64 @list_check(ptr %kept, i64 1024)
  %rss = call i64 @max_rss_kib()
  %m = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %sum, ptr %m, align 8
  %m8 = getelementptr i8, ptr %m, i64 8
  store i64 %rss, ptr %m8, align 8
  call void @snow_actor_send(i64 %main, ptr %m, i64 16)
  ret void
}

define void @snow_main() {
entry:
  %self = call i64 @snow_actor_self()
  %n = call i64 @env_or(ptr @.env_allocs, i64 500000)
  %limit = call i64 @env_or(ptr @.env_limit, i64 64)
  %args = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %self, ptr %args, align 8
  %np = getelementptr i8, ptr %args, i64 8
  store i64 %n, ptr %np, align 8
  %c = call i64 @snow_actor_spawn(ptr @churner, ptr %args, i64 16, i8 1)
  %m = call ptr @snow_actor_receive(i64 60000)
  %ok = icmp ne ptr %m, null
  br i1 %ok, label %good, label %bad
good:
  %sp = getelementptr i8, ptr %m, i64 16
  %sum = load i64, ptr %sp, align 8
  %rp = getelementptr i8, ptr %m, i64 24
  %rss = load i64, ptr %rp, align 8
  %p0 = call i32 (ptr, ...) @printf(ptr @.fmt_sum, i64 %sum)
  %limit_kib = mul i64 %limit, 1024
  %under = icmp ult i64 %rss, %limit_kib
  %yn = select i1 %under, ptr @.yes, ptr @.no
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_rss, ptr %yn)
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_measured, i64 %rss, i64 %limit)
  ret void
bad:
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_missing)
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
