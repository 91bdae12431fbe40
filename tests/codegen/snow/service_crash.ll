; service_crash.ll: a crashing service (Snow's e2e list): a caller's call
; to a service that crashes while handling it exits the caller with the
; service's reason, as gen_server:call does, instead of handing compiled
; code a NULL reply (the call helper reads the reply at +16 unchecked); a
; bystander and the OS process live on. Services are lowered as Snow does:
; a loop over [tag][caller][args] messages, replies through
; snow_service_reply, call helpers around snow_service_call. The caller has
; a terminate block (set by its spawner) that reports its exit reason.
; Expected output: service_crash.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare void @snow_actor_set_terminate(i64, ptr)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare ptr @snow_service_call(i64, i64, ptr, i64)
declare void @snow_service_reply(i64, ptr, i64)
declare void @snow_panic(ptr, i64, ptr, i64, i32) noreturn
declare i32 @printf(ptr, ...)
declare i32 @fflush(ptr)
declare void @_exit(i32) noreturn

@g_main = global i64 0
@.name_loop = private unnamed_addr constant [22 x i8] c"__service_counter_loop"
@.name_caller = private unnamed_addr constant [6 x i8] c"caller"
@.name_bystander = private unnamed_addr constant [9 x i8] c"bystander"
@.name_terminate = private unnamed_addr constant [18 x i8] c"__terminate_caller"
@.crashed = private unnamed_addr constant [15 x i8] c"service crashed"
@.file = private unnamed_addr constant [18 x i8] c"service_crash.snow"
@.fmt_count = private unnamed_addr constant [17 x i8] c"main: count %ld\0A\00"
@.fmt_calling = private unnamed_addr constant [23 x i8] c"caller: calling crash\0A\00"
@.fmt_got = private unnamed_addr constant [21 x i8] c"caller: got %ld (!)\0A\00"
@.fmt_term = private unnamed_addr constant [27 x i8] c"caller terminated: tag %u\0A\00"
@.fmt_text = private unnamed_addr constant [31 x i8] c"caller terminated: error %.*s\0A\00"
@.fmt_alive = private unnamed_addr constant [18 x i8] c"bystander: alive\0A\00"
@.fmt_missing = private unnamed_addr constant [27 x i8] c"main: no answer (step %d)\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"

; service Counter: state = the count; call get (tag 1) replies it, call
; crash (tag 2) panics.
define void @__service_counter_loop(ptr %args) {
entry:
  %count = load i64, ptr %args, align 8
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %data = getelementptr i8, ptr %m, i64 16
  %tag = load i64, ptr %data, align 8
  %callerp = getelementptr i8, ptr %data, i64 8
  %caller = load i64, ptr %callerp, align 8
  switch i64 %tag, label %loop [ i64 1, label %get
                                 i64 2, label %crash ]
get:
  %reply = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %count, ptr %reply, align 8
  call void @snow_service_reply(i64 %caller, ptr %reply, i64 8)
  br label %loop
crash:
  call void @snow_panic(ptr @.crashed, i64 15, ptr @.file, i64 18, i32 30)
  unreachable
}

; Call helpers: [tag][caller][args] built by the runtime from the payload;
; the reply's value is read at +16 without a NULL check.
define i64 @__service_counter_call(i64 %pid, i64 %tag) {
entry:
  %payload = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 0, ptr %payload, align 8
  %r = call ptr @snow_service_call(i64 %pid, i64 %tag, ptr %payload, i64 8)
  %vp = getelementptr i8, ptr %r, i64 16
  %v = load i64, ptr %vp, align 8
  ret i64 %v
}

; actor caller(server): waits for a go, then calls crash.
define void @caller(ptr %args) {
entry:
  %server = load i64, ptr %args, align 8
  %go = call ptr @snow_actor_receive(i64 -1)
  call void @snow_reduction_check()
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_calling)
  %v = call i64 @__service_counter_call(i64 %server, i64 2)
  call void @snow_reduction_check()
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_got, i64 %v)
  ret void
}

define void @__terminate_caller(ptr %state, ptr %reason) {
entry:
  %tag = load i8, ptr %reason, align 1
  %tag32 = zext i8 %tag to i32
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_term, i32 %tag32)
  %is_error = icmp eq i8 %tag, 1
  br i1 %is_error, label %error, label %notify
error:
  %lenp = getelementptr i8, ptr %reason, i64 1
  %len = load i64, ptr %lenp, align 1
  %len32 = trunc i64 %len to i32
  %text = getelementptr i8, ptr %reason, i64 9
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_text, i32 %len32, ptr %text)
  br label %notify
notify:
  %msg = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 1, ptr %msg, align 8
  %main = load i64, ptr @g_main, align 8
  call void @snow_actor_send(i64 %main, ptr %msg, i64 8)
  ret void
}

; actor bystander(parent): answers every message with [3].
define void @bystander(ptr %args) {
entry:
  %parent = load i64, ptr %args, align 8
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %pong = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 3, ptr %pong, align 8
  call void @snow_actor_send(i64 %parent, ptr %pong, i64 8)
  br label %loop
}

define void @expect_answer(ptr %m, i32 %step) {
entry:
  %ok = icmp ne ptr %m, null
  br i1 %ok, label %good, label %bad
good:
  ret void
bad:
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_missing, i32 %step)
  %f = call i32 @fflush(ptr null)
  call void @_exit(i32 1)
  unreachable
}

define void @snow_main() {
entry:
  %self = call i64 @snow_actor_self()
  store i64 %self, ptr @g_main, align 8
  %sargs = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 5, ptr %sargs, align 8
  %server = call i64 @snow_actor_spawn(ptr @__service_counter_loop, ptr %sargs, i64 8, i8 1)
  %count = call i64 @__service_counter_call(i64 %server, i64 1)
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_count, i64 %count)
  call void @snow_reduction_check()

  %bargs = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %self, ptr %bargs, align 8
  %bystander = call i64 @snow_actor_spawn(ptr @bystander, ptr %bargs, i64 8, i8 1)

  %cargs = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %server, ptr %cargs, align 8
  %caller = call i64 @snow_actor_spawn(ptr @caller, ptr %cargs, i64 8, i8 1)
  call void @snow_actor_set_terminate(i64 %caller, ptr @__terminate_caller)
  %go = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 7, ptr %go, align 8
  call void @snow_actor_send(i64 %caller, ptr %go, i64 8)
  %ended = call ptr @snow_actor_receive(i64 5000)
  call void @expect_answer(ptr %ended, i32 1)

  call void @snow_actor_send(i64 %bystander, ptr %go, i64 8)
  %pong = call ptr @snow_actor_receive(i64 5000)
  call void @expect_answer(ptr %pong, i32 2)
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_alive)
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  %f = call i32 @fflush(ptr null)
  ; The bystander and the server wait forever: once main returns,
  ; run_scheduler exits them with shutdown (nothing can wake them).
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_loop, i64 22, ptr @__service_counter_loop)
  call void @snow_register_function(ptr @.name_caller, i64 6, ptr @caller)
  call void @snow_register_function(ptr @.name_bystander, i64 9, ptr @bystander)
  call void @snow_register_function(ptr @.name_terminate, i64 18, ptr @__terminate_caller)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
