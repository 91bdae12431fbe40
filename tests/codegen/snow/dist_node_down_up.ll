; dist_node_down_up.ll: two-node scenario "node monitor: NODEDOWN on
; SIGKILL, NODEUP on restart" (Snow's e2e list), one program run in three
; roles by dist_driver.py on 127.0.0.1:
;   dist_node_down_up b <b-name> <a-name>   Node.start, prints "b: ready"
;       and waits; the driver SIGKILLs it.
;   dist_node_down_up a <a-name> <b-name>   Node.start, Node.connect(b),
;       Node.monitor(b), prints "a: monitoring b"; then NODEDOWN for b
;       (the SIGKILL), and NODEUP for b once b runs again and connects;
;       then "done" to cg_host on b and returns.
;   dist_node_down_up r <b-name> <a-name>   b restarted under the same
;       name: Node.start, Process.register(cg_host), Node.connect(a), ends
;       on a's "done".
; A node monitor does not reconnect by itself, so the restarted b connects.
; Every line is flushed at once (the driver waits for lines). Expected
; output: dist_node_down_up.{a,b,r}.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_actor_send_named(ptr, i64, ptr, i64, ptr, i64)
declare void @snow_actor_register(ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_node_start(ptr, i64, ptr, i64)
declare i64 @snow_node_connect(ptr, i64)
declare i64 @snow_node_monitor(ptr, i64)
declare void @snow_reduction_check()
declare i32 @printf(ptr, ...)
declare i32 @fflush(ptr)
declare i64 @strlen(ptr)
declare i32 @memcmp(ptr, ptr, i64)
declare void @_exit(i32) noreturn

@g_role = global i8 0
@g_self = global ptr null
@g_peer = global ptr null

@.host = private unnamed_addr constant [7 x i8] c"cg_host"
@.cookie = private unnamed_addr constant [8 x i8] c"cgcookie"
@.fmt_ready = private unnamed_addr constant [10 x i8] c"b: ready\0A\00"
@.fmt_back = private unnamed_addr constant [39 x i8] c"b: running again, connected to a: %ld\0A\00"
@.fmt_done_b = private unnamed_addr constant [20 x i8] c"b: a said done: %s\0A\00"
@.fmt_connected = private unnamed_addr constant [24 x i8] c"a: connected to b: %ld\0A\00"
@.fmt_monitoring = private unnamed_addr constant [17 x i8] c"a: monitoring b\0A\00"
@.fmt_event = private unnamed_addr constant [24 x i8] c"a: %s for b (name: %s)\0A\00"
@.fmt_other = private unnamed_addr constant [32 x i8] c"a: unexpected message, tag %ld\0A\00"
@.nodedown = private unnamed_addr constant [9 x i8] c"NODEDOWN\00"
@.nodeup = private unnamed_addr constant [7 x i8] c"NODEUP\00"
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

; Waits for a node event with tag `want` (NODEDOWN -3, NODEUP -4) and
; prints "a: <what> for b (name: yes|no)", yes when the event names b.
define void @node_event(i64 %want, ptr %what, i32 %step) {
entry:
  %m = call ptr @snow_actor_receive(i64 30000)
  %ev = call ptr @expect(ptr %m, i32 %step)
  %tag = load i64, ptr %ev, align 8
  %is_want = icmp eq i64 %tag, %want
  br i1 %is_want, label %name, label %other
name:
  %lenp = getelementptr i8, ptr %ev, i64 8
  %len = load i64, ptr %lenp, align 8
  %peer = load ptr, ptr @g_peer, align 8
  %plen = call i64 @strlen(ptr %peer)
  %same_len = icmp eq i64 %len, %plen
  br i1 %same_len, label %bytes, label %print
bytes:
  %data = getelementptr i8, ptr %ev, i64 16
  %c = call i32 @memcmp(ptr %data, ptr %peer, i64 %len)
  %same_bytes = icmp eq i32 %c, 0
  br label %print
print:
  %same = phi i1 [ false, %name ], [ %same_bytes, %bytes ]
  %yn = select i1 %same, ptr @.yes, ptr @.no
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_event, ptr %what, ptr %yn)
  call void @flush()
  ret void
other:
  %po = call i32 (ptr, ...) @printf(ptr @.fmt_other, i64 %tag)
  call void @flush()
  call void @_exit(i32 1)
  unreachable
}

; b: Node.start, then wait to be killed.
define void @role_b() {
entry:
  call void @start_node()
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_ready)
  call void @flush()
  %m = call ptr @snow_actor_receive(i64 60000)
  ret void
}

; b restarted: Node.start, register, connect to a, end on a's "done".
define void @role_r() {
entry:
  call void @start_node()
  call void @snow_actor_register(ptr @.host, i64 7)
  %peer = load ptr, ptr @g_peer, align 8
  %plen = call i64 @strlen(ptr %peer)
  %rc = call i64 @snow_node_connect(ptr %peer, i64 %plen)
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_back, i64 %rc)
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
  %id = call i64 @snow_node_monitor(ptr %peer, i64 %plen)
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_monitoring)
  call void @flush()
  call void @snow_reduction_check()
  call void @node_event(i64 -3, ptr @.nodedown, i32 2)
  call void @node_event(i64 -4, ptr @.nodeup, i32 3)
  ; send {cg_host, b}, "yes" (b prints it: done)
  call void @snow_actor_send_named(ptr @.host, i64 7, ptr %peer, i64 %plen, ptr @.yes, i64 4)
  ret void
}

define void @snow_main() {
entry:
  %role = load i8, ptr @g_role, align 1
  switch i8 %role, label %a [ i8 98, label %b
                              i8 114, label %r ]
b:
  call void @role_b()
  ret void
r:
  call void @role_r()
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
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
