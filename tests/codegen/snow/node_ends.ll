; node_ends.ll: a program that starts a node and ends (Snow's e2e list):
; snow_main calls Node.start, does its work and returns; with no process
; left, snow_rt_run_scheduler stops the node and returns, and main returns
; 0. Snow cannot emit snow_node_stop, so without that the program would
; wait forever. Uses the port mapper: run under the dist lock (label dist).
; Expected output: node_ends.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_node_start(ptr, i64, ptr, i64)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare i32 @printf(ptr, ...)
declare i32 @fflush(ptr)
declare void @_exit(i32) noreturn

@.name_worker = private unnamed_addr constant [6 x i8] c"worker"
@.node = private unnamed_addr constant [21 x i8] c"snowcg_ends@127.0.0.1"
@.cookie = private unnamed_addr constant [8 x i8] c"cgcookie"
@.fmt_started = private unnamed_addr constant [15 x i8] c"node: started\0A\00"
@.fmt_failed = private unnamed_addr constant [26 x i8] c"node: start failed (%ld)\0A\00"
@.fmt_worker = private unnamed_addr constant [14 x i8] c"worker: done\0A\00"
@.fmt_return = private unnamed_addr constant [17 x i8] c"main: returning\0A\00"
@.fmt_ended = private unnamed_addr constant [16 x i8] c"program: ended\0A\00"

; actor worker(parent): prints and tells the parent.
define void @worker(ptr %args) {
entry:
  %parent = load i64, ptr %args, align 8
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_worker)
  %msg = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 1, ptr %msg, align 8
  call void @snow_actor_send(i64 %parent, ptr %msg, i64 8)
  ret void
}

define void @snow_main() {
entry:
  %rc = call i64 @snow_node_start(ptr @.node, i64 21, ptr @.cookie, i64 8)
  %ok = icmp eq i64 %rc, 0
  br i1 %ok, label %started, label %failed
failed:
  %pf = call i32 (ptr, ...) @printf(ptr @.fmt_failed, i64 %rc)
  %f = call i32 @fflush(ptr null)
  call void @_exit(i32 2)
  unreachable
started:
  %ps = call i32 (ptr, ...) @printf(ptr @.fmt_started)
  call void @snow_reduction_check()
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %self = call i64 @snow_actor_self()
  store i64 %self, ptr %args, align 8
  %w = call i64 @snow_actor_spawn(ptr @worker, ptr %args, i64 8, i8 1)
  %m = call ptr @snow_actor_receive(i64 -1)
  %pr = call i32 (ptr, ...) @printf(ptr @.fmt_return)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_worker, i64 6, ptr @worker)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_ended)
  ret i32 0
}
