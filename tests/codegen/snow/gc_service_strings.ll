; gc_service_strings.ll: a service answering 1,000,000 calls with a new
; string each (issue 11: Snow's counter service leaked its handler's tuple,
; 45.6 MB after 1M calls). Lowered as Snow lowers services (see
; service_counter.ll): the handler allocates a String in the service's
; heap and replies with its 8-byte address, so every reply is a value that
; crosses processes. A client actor reads every string (it must be intact)
; and drops it. The process's maximum resident size after the
; warm-up (the first fifth of the calls) and at the end must differ by less
; than 8 MiB: memory stays flat. SNOWCG_CALLS scales the run and
; SNOWCG_RSS_GROWTH_MB the bound (sanitizer builds, whose allocators keep
; freed runtime memory in a quarantine); measurements go to a line left out
; of the comparison.
; Expected output: gc_service_strings.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare void @snow_actor_send(i64, ptr, i64)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare ptr @snow_service_call(i64, i64, ptr, i64)
declare void @snow_service_reply(i64, ptr, i64)
declare i32 @getrusage(i32, ptr)
declare ptr @getenv(ptr)
declare i64 @atol(ptr)
declare i32 @printf(ptr, ...)

@.name_loop = private unnamed_addr constant [19 x i8] c"__service_echo_loop"
@.name_client = private unnamed_addr constant [6 x i8] c"client"
@.env_growth = private unnamed_addr constant [21 x i8] c"SNOWCG_RSS_GROWTH_MB\00"
@.env_calls = private unnamed_addr constant [13 x i8] c"SNOWCG_CALLS\00"
@.fmt_intact = private unnamed_addr constant [44 x i8] c"gc_service_strings: every reply intact: %s\0A\00"
@.fmt_flat = private unnamed_addr constant [52 x i8] c"gc_service_strings: RSS flat after the warm-up: %s\0A\00"
@.fmt_measured = private unnamed_addr constant [59 x i8] c"rss: %ld calls, max %ld KiB after warm-up, %ld KiB at end\0A\00"
@.yes = private unnamed_addr constant [4 x i8] c"yes\00"
@.no = private unnamed_addr constant [3 x i8] c"no\00"

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

; service Echo do
;   call show(k :: Int) :: String do |s| (s, "<k four times>") end  (tag 1)
; end
; A String here: [len = 32][k][k][k][k].
define void @__service_echo_handle_show(i64 %k, i64 %caller) {
entry:
  %s = call ptr @snow_gc_alloc_actor(i64 40, i64 8)
  store i64 32, ptr %s, align 8
  %w1 = getelementptr i8, ptr %s, i64 8
  store i64 %k, ptr %w1, align 8
  %w2 = getelementptr i8, ptr %s, i64 16
  store i64 %k, ptr %w2, align 8
  %w3 = getelementptr i8, ptr %s, i64 24
  store i64 %k, ptr %w3, align 8
  %w4 = getelementptr i8, ptr %s, i64 32
  store i64 %k, ptr %w4, align 8
  %reply = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store ptr %s, ptr %reply, align 8
  call void @snow_service_reply(i64 %caller, ptr %reply, i64 8)
  ret void
}

define void @__service_echo_loop(ptr %args) {
entry:
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %data = getelementptr i8, ptr %m, i64 16
  %tag = load i64, ptr %data, align 8
  %callerp = getelementptr i8, ptr %data, i64 8
  %caller = load i64, ptr %callerp, align 8
  %kp = getelementptr i8, ptr %data, i64 16
  %k = load i64, ptr %kp, align 8
  switch i64 %tag, label %loop [ i64 1, label %show ]
show:
  call void @__service_echo_handle_show(i64 %k, i64 %caller)
  br label %loop
}

; Echo.show(pid, k): 1 if the String that comes back reads k four times.
define i64 @__service_echo_call_show(i64 %pid, i64 %k) {
entry:
  %payload = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %k, ptr %payload, align 8
  %r = call ptr @snow_service_call(i64 %pid, i64 1, ptr %payload, i64 8)
  %sp = getelementptr i8, ptr %r, i64 16
  %s = load ptr, ptr %sp, align 8
  %len = load i64, ptr %s, align 8
  %ok0 = icmp eq i64 %len, 32
  %w1 = getelementptr i8, ptr %s, i64 8
  %v1 = load i64, ptr %w1, align 8
  %w4 = getelementptr i8, ptr %s, i64 32
  %v4 = load i64, ptr %w4, align 8
  %ok1 = icmp eq i64 %v1, %k
  %ok4 = icmp eq i64 %v4, %k
  %ok01 = and i1 %ok0, %ok1
  %ok = and i1 %ok01, %ok4
  %r64 = zext i1 %ok to i64
  ret i64 %r64
}

; actor client(main, service, n): n calls; sends main
; [calls answered intact][max RSS KiB after the warm-up][max RSS KiB at the end].
define void @client(ptr %args) {
entry:
  %i = alloca i64, align 8
  %good = alloca i64, align 8
  %warm = alloca i64, align 8
  %main = load i64, ptr %args, align 8
  %svcp = getelementptr i8, ptr %args, i64 8
  %svc = load i64, ptr %svcp, align 8
  %np = getelementptr i8, ptr %args, i64 16
  %n = load i64, ptr %np, align 8
  %warm_at = udiv i64 %n, 5
  store i64 0, ptr %i, align 8
  store i64 0, ptr %good, align 8
  store i64 0, ptr %warm, align 8
  br label %loop
loop:
  %k = load i64, ptr %i, align 8
  %ok = call i64 @__service_echo_call_show(i64 %svc, i64 %k)
  %g = load i64, ptr %good, align 8
  %g1 = add i64 %g, %ok
  store i64 %g1, ptr %good, align 8
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %at_warm = icmp eq i64 %k1, %warm_at
  br i1 %at_warm, label %measure, label %next
measure:
  %w = call i64 @max_rss_kib()
  store i64 %w, ptr %warm, align 8
  br label %next
next:
  %more = icmp ult i64 %k1, %n
  br i1 %more, label %loop, label %done
done:
  %end = call i64 @max_rss_kib()
  %m = call ptr @snow_gc_alloc_actor(i64 24, i64 8)
  %gf = load i64, ptr %good, align 8
  store i64 %gf, ptr %m, align 8
  %m8 = getelementptr i8, ptr %m, i64 8
  %wf = load i64, ptr %warm, align 8
  store i64 %wf, ptr %m8, align 8
  %m16 = getelementptr i8, ptr %m, i64 16
  store i64 %end, ptr %m16, align 8
  call void @snow_actor_send(i64 %main, ptr %m, i64 24)
  ret void
}

define void @snow_main() {
entry:
  %self = call i64 @snow_actor_self()
  %n = call i64 @env_or(ptr @.env_calls, i64 1000000)
  %sargs = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %svc = call i64 @snow_actor_spawn(ptr @__service_echo_loop, ptr %sargs, i64 8, i8 1)
  %args = call ptr @snow_gc_alloc_actor(i64 24, i64 8)
  store i64 %self, ptr %args, align 8
  %a8 = getelementptr i8, ptr %args, i64 8
  store i64 %svc, ptr %a8, align 8
  %a16 = getelementptr i8, ptr %args, i64 16
  store i64 %n, ptr %a16, align 8
  %c = call i64 @snow_actor_spawn(ptr @client, ptr %args, i64 24, i8 1)
  %m = call ptr @snow_actor_receive(i64 -1)
  %d = getelementptr i8, ptr %m, i64 16
  %gf = load i64, ptr %d, align 8
  %d8 = getelementptr i8, ptr %d, i64 8
  %wf = load i64, ptr %d8, align 8
  %d16 = getelementptr i8, ptr %d, i64 16
  %end = load i64, ptr %d16, align 8
  %intact = icmp eq i64 %gf, %n
  %yn1 = select i1 %intact, ptr @.yes, ptr @.no
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_intact, ptr %yn1)
  %grew = sub i64 %end, %wf
  %growth_mb = call i64 @env_or(ptr @.env_growth, i64 8)
  %growth_kib = mul i64 %growth_mb, 1024
  %flat = icmp slt i64 %grew, %growth_kib
  %yn2 = select i1 %flat, ptr @.yes, ptr @.no
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_flat, ptr %yn2)
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_measured, i64 %n, i64 %wf, i64 %end)
  ; the service waits forever: ended with shutdown once main returns
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_loop, i64 19, ptr @__service_echo_loop)
  call void @snow_register_function(ptr @.name_client, i64 6, ptr @client)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
