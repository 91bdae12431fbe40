; dist_monitor_down.ll: two-node scenario "remote monitor DOWN with
; reason" (Snow's e2e list), one program run in two roles by
; dist_driver.py on 127.0.0.1:
;   dist_monitor_down b <b-name> <a-name>   the host: Node.start, registers
;       itself as cg_host, prints "b: ready", ends on a's "done" message;
;       its registered function `worker` waits for a go and panics.
;   dist_monitor_down a <a-name> <b-name>   Node.start, Node.connect(b),
;       Node.spawn(b, "worker"), Process.monitor of the remote pid, go:
;       DOWN arrives with the crash's reason and the pid; a monitor of the
;       dead pid gets DOWN noproc; then "done" to cg_host on b.
; Every line is flushed at once (the driver waits for lines). Expected
; output: dist_monitor_down.a.expected, dist_monitor_down.b.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare void @snow_actor_send(i64, ptr, i64)
declare void @snow_actor_send_named(ptr, i64, ptr, i64, ptr, i64)
declare void @snow_actor_register(ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_process_monitor(i64)
declare i64 @snow_node_start(ptr, i64, ptr, i64)
declare i64 @snow_node_connect(ptr, i64)
declare i64 @snow_node_spawn(ptr, i64, ptr, i64, ptr, i64, i8)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare void @snow_panic(ptr, i64, ptr, i64, i32) noreturn
declare i32 @printf(ptr, ...)
declare i32 @fflush(ptr)
declare i64 @strlen(ptr)
declare void @_exit(i32) noreturn

@g_role = global i8 0
@g_self = global ptr null
@g_peer = global ptr null

@.name_worker = private unnamed_addr constant [6 x i8] c"worker"
@.host = private unnamed_addr constant [7 x i8] c"cg_host"
@.cookie = private unnamed_addr constant [8 x i8] c"cgcookie"
@.crash = private unnamed_addr constant [12 x i8] c"remote crash"
@.file = private unnamed_addr constant [22 x i8] c"dist_monitor_down.snow"
@.fmt_ready = private unnamed_addr constant [10 x i8] c"b: ready\0A\00"
@.fmt_worker = private unnamed_addr constant [19 x i8] c"b: worker started\0A\00"
@.fmt_done_b = private unnamed_addr constant [20 x i8] c"b: a said done: %s\0A\00"
@.fmt_connected = private unnamed_addr constant [24 x i8] c"a: connected to b: %ld\0A\00"
@.fmt_spawned = private unnamed_addr constant [30 x i8] c"a: spawned a worker on b: %s\0A\00"
@.fmt_down = private unnamed_addr constant [46 x i8] c"a: DOWN from the remote worker (same pid: %s)\00"
@.fmt_noproc = private unnamed_addr constant [33 x i8] c"a: monitor of the dead pid: DOWN\00"
@.fmt_reason = private unnamed_addr constant [16 x i8] c", reason tag %u\00"
@.fmt_text = private unnamed_addr constant [7 x i8] c" %.*s\0A\00"
@.fmt_nl = private unnamed_addr constant [2 x i8] c"\0A\00"
@.fmt_start_failed = private unnamed_addr constant [29 x i8] c"%c: node start failed (%ld)\0A\00"
@.fmt_missing = private unnamed_addr constant [27 x i8] c"%c: no message at step %d\0A\00"
@.yes = private unnamed_addr constant [4 x i8] c"yes\00"
@.no = private unnamed_addr constant [3 x i8] c"no\00"

define void @flush() {
entry:
  %f = call i32 @fflush(ptr null)
  ret void
}

define ptr @expect(ptr %m, i32 %step) {
entry:
  %ok = icmp ne ptr %m, null
  br i1 %ok, label %good, label %bad
good:
  ret ptr %m
bad:
  %role = load i8, ptr @g_role, align 1
  %role32 = zext i8 %role to i32
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_missing, i32 %role32, i32 %step)
  call void @flush()
  call void @_exit(i32 1)
  unreachable
}

; Node.start(self name) or exit 2 (the driver may retry).
define void @start_node() {
entry:
  %self = load ptr, ptr @g_self, align 8
  %len = call i64 @strlen(ptr %self)
  %rc = call i64 @snow_node_start(ptr %self, i64 %len, ptr @.cookie, i64 8)
  %ok = icmp eq i64 %rc, 0
  br i1 %ok, label %started, label %failed
started:
  ret void
failed:
  %role = load i8, ptr @g_role, align 1
  %role32 = zext i8 %role to i32
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_start_failed, i32 %role32, i64 %rc)
  call void @flush()
  call void @_exit(i32 2)
  unreachable
}

; Prints ", reason tag T[ text]\n" for an encoded reason.
define void @print_reason(ptr %reason) {
entry:
  %tag = load i8, ptr %reason, align 1
  %tag32 = zext i8 %tag to i32
  %p0 = call i32 (ptr, ...) @printf(ptr @.fmt_reason, i32 %tag32)
  %is_error = icmp eq i8 %tag, 1
  %is_custom = icmp eq i8 %tag, 5
  %has_text = or i1 %is_error, %is_custom
  br i1 %has_text, label %text, label %plain
text:
  %lenp = getelementptr i8, ptr %reason, i64 1
  %len = load i64, ptr %lenp, align 1
  %len32 = trunc i64 %len to i32
  %t = getelementptr i8, ptr %reason, i64 9
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_text, i32 %len32, ptr %t)
  call void @flush()
  ret void
plain:
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_nl)
  call void @flush()
  ret void
}

; actor worker (spawned on b by a): waits for a go, then panics.
define void @worker(ptr %args) {
entry:
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_worker)
  call void @flush()
  call void @snow_reduction_check()
  %go = call ptr @snow_actor_receive(i64 -1)
  call void @snow_panic(ptr @.crash, i64 12, ptr @.file, i64 22, i32 12)
  unreachable
}

define void @role_b() {
entry:
  call void @start_node()
  call void @snow_actor_register(ptr @.host, i64 7)
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_ready)
  call void @flush()
  %m = call ptr @snow_actor_receive(i64 60000)
  %d = call ptr @expect(ptr %m, i32 1)
  %textp = getelementptr i8, ptr %d, i64 16
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_done_b, ptr %textp)
  call void @flush()
  ret void
}

define void @role_a() {
entry:
  call void @start_node()
  %peer = load ptr, ptr @g_peer, align 8
  %plen = call i64 @strlen(ptr %peer)
  %rc = call i64 @snow_node_connect(ptr %peer, i64 %plen)
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_connected, i64 %rc)
  call void @flush()
  call void @snow_reduction_check()

  ; let w = Node.spawn(b, worker); let ref = Process.monitor(w); send w, go
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %w = call i64 @snow_node_spawn(ptr %peer, i64 %plen, ptr @.name_worker, i64 6, ptr %args, i64 8, i8 0)
  %spawned = icmp ne i64 %w, 0
  %ys = select i1 %spawned, ptr @.yes, ptr @.no
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_spawned, ptr %ys)
  call void @flush()
  %ref = call i64 @snow_process_monitor(i64 %w)
  %go = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 1, ptr %go, align 8
  call void @snow_actor_send(i64 %w, ptr %go, i64 8)
  %m = call ptr @snow_actor_receive(i64 10000)
  %down = call ptr @expect(ptr %m, i32 2)
  ; DOWN: [ref][pid][reason]
  %pidp = getelementptr i8, ptr %down, i64 24
  %pid = load i64, ptr %pidp, align 8
  %same = icmp eq i64 %pid, %w
  %yp = select i1 %same, ptr @.yes, ptr @.no
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_down, ptr %yp)
  %reason = getelementptr i8, ptr %down, i64 32
  call void @print_reason(ptr %reason)
  call void @snow_reduction_check()

  ; a monitor of the dead remote pid: DOWN noproc
  %ref2 = call i64 @snow_process_monitor(i64 %w)
  %m2 = call ptr @snow_actor_receive(i64 10000)
  %down2 = call ptr @expect(ptr %m2, i32 3)
  %p4 = call i32 (ptr, ...) @printf(ptr @.fmt_noproc)
  %reason2 = getelementptr i8, ptr %down2, i64 32
  call void @print_reason(ptr %reason2)

  ; send {cg_host, b}, "yes" (b prints it: done)
  call void @snow_actor_send_named(ptr @.host, i64 7, ptr %peer, i64 %plen, ptr @.yes, i64 4)
  ret void
}

define void @snow_main() {
entry:
  %role = load i8, ptr @g_role, align 1
  %is_b = icmp eq i8 %role, 98
  br i1 %is_b, label %b, label %a
b:
  call void @role_b()
  ret void
a:
  call void @role_a()
  ret void
}

; main(argc, argv): role, own node name, peer node name.
define i32 @main(i32 %argc, ptr %argv) {
entry:
  %enough = icmp sge i32 %argc, 4
  br i1 %enough, label %run, label %usage
usage:
  ret i32 64
run:
  %a1 = getelementptr ptr, ptr %argv, i64 1
  %role_s = load ptr, ptr %a1, align 8
  %role = load i8, ptr %role_s, align 1
  store i8 %role, ptr @g_role, align 1
  %a2 = getelementptr ptr, ptr %argv, i64 2
  %self = load ptr, ptr %a2, align 8
  store ptr %self, ptr @g_self, align 8
  %a3 = getelementptr ptr, ptr %argv, i64 3
  %peer = load ptr, ptr %a3, align 8
  store ptr %peer, ptr @g_peer, align 8
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_worker, i64 6, ptr @worker)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
