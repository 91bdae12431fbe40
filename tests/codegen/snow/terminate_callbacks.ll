; terminate_callbacks.ll: Snow's `terminate do ... end` blocks (e2e list:
; terminate callbacks on return, crash and kill), as the Snow compiler emits
; them: the spawner calls snow_actor_set_terminate(pid, @__terminate_worker)
; right after snow_actor_spawn. The callback prints the reason's tag (and an
; error's text) and tells the main process it ran; main waits for that
; before the next case. Expected output: terminate_callbacks.expected.

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
declare void @snow_actor_exit(i64, i8)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare void @snow_panic(ptr, i64, ptr, i64, i32) noreturn
declare i32 @printf(ptr, ...)
declare i32 @fflush(ptr)
declare void @_exit(i32) noreturn

@g_main = global i64 0
@.name_worker = private unnamed_addr constant [6 x i8] c"worker"
@.name_terminate = private unnamed_addr constant [18 x i8] c"__terminate_worker"
@.boom = private unnamed_addr constant [4 x i8] c"boom"
@.file = private unnamed_addr constant [14 x i8] c"terminate.snow"
@.fmt_tag = private unnamed_addr constant [19 x i8] c"terminate: tag %u\0A\00"
@.fmt_text = private unnamed_addr constant [23 x i8] c"terminate: error %.*s\0A\00"
@.fmt_done = private unnamed_addr constant [27 x i8] c"main: worker %ld finished\0A\00"
@.fmt_missing = private unnamed_addr constant [44 x i8] c"main: no terminate callback for worker %ld\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"

; actor worker(parent, mode): waits for a message, then returns (0),
; panics (1) or tells the parent it spins and spins until killed (2).
define void @worker(ptr %args) {
entry:
  %modep = getelementptr i8, ptr %args, i64 8
  %mode = load i64, ptr %modep, align 8
  call void @snow_reduction_check()
  %go = call ptr @snow_actor_receive(i64 -1)
  call void @snow_reduction_check()
  switch i64 %mode, label %return [ i64 1, label %crash
                                    i64 2, label %spin ]
return:
  ret void
crash:
  call void @snow_panic(ptr @.boom, i64 4, ptr @.file, i64 14, i32 12)
  unreachable
spin:
  %msg = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 2, ptr %msg, align 8
  %parent = load i64, ptr %args, align 8
  call void @snow_actor_send(i64 %parent, ptr %msg, i64 8)
  br label %loop
loop:
  call void @snow_reduction_check()
  br label %loop
}

; terminate do ... end of worker: (state, reason).
define void @__terminate_worker(ptr %state, ptr %reason) {
entry:
  %tag = load i8, ptr %reason, align 1
  %tag32 = zext i8 %tag to i32
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_tag, i32 %tag32)
  call void @snow_reduction_check()
  %is_error = icmp eq i8 %tag, 1
  br i1 %is_error, label %error, label %notify
error:
  %lenp = getelementptr i8, ptr %reason, i64 1
  %len = load i64, ptr %lenp, align 1
  %len32 = trunc i64 %len to i32
  %text = getelementptr i8, ptr %reason, i64 9
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_text, i32 %len32, ptr %text)
  call void @snow_reduction_check()
  br label %notify
notify:
  %msg = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 1, ptr %msg, align 8
  %main = load i64, ptr @g_main, align 8
  call void @snow_actor_send(i64 %main, ptr %msg, i64 8)
  ret void
}

define void @fail_missing(i64 %mode) noreturn {
entry:
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_missing, i64 %mode)
  %f = call i32 @fflush(ptr null)
  call void @_exit(i32 1)
  unreachable
}

define void @run_case(i64 %mode) {
entry:
  %args = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  %self = call i64 @snow_actor_self()
  store i64 %self, ptr %args, align 8
  %modep = getelementptr i8, ptr %args, i64 8
  store i64 %mode, ptr %modep, align 8
  %pid = call i64 @snow_actor_spawn(ptr @worker, ptr %args, i64 16, i8 1)
  call void @snow_actor_set_terminate(i64 %pid, ptr @__terminate_worker)
  call void @snow_reduction_check()
  %go = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 7, ptr %go, align 8
  call void @snow_actor_send(i64 %pid, ptr %go, i64 8)
  call void @snow_reduction_check()
  %is_spin = icmp eq i64 %mode, 2
  br i1 %is_spin, label %kill, label %wait
kill:
  %spinning = call ptr @snow_actor_receive(i64 5000)
  %spin_ok = icmp ne ptr %spinning, null
  br i1 %spin_ok, label %do_kill, label %missing
do_kill:
  call void @snow_actor_exit(i64 %pid, i8 2)
  call void @snow_reduction_check()
  br label %wait
wait:
  %ran = call ptr @snow_actor_receive(i64 5000)
  %ran_ok = icmp ne ptr %ran, null
  br i1 %ran_ok, label %done, label %missing
done:
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_done, i64 %mode)
  ret void
missing:
  call void @fail_missing(i64 %mode)
  unreachable
}

define void @snow_main() {
entry:
  %self = call i64 @snow_actor_self()
  store i64 %self, ptr @g_main, align 8
  call void @run_case(i64 0)
  call void @snow_reduction_check()
  call void @run_case(i64 1)
  call void @snow_reduction_check()
  call void @run_case(i64 2)
  call void @snow_reduction_check()
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_worker, i64 6, ptr @worker)
  call void @snow_register_function(ptr @.name_terminate, i64 18, ptr @__terminate_worker)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
