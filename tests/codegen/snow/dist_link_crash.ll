; dist_link_crash.ll: two-node scenario "remote link crash, both ways"
; (Snow's e2e list), one program run in two roles by dist_driver.py on
; 127.0.0.1:
;   dist_link_crash b <b-name> <a-name>   the host: Node.start, registers
;       itself as cg_host, prints "b: ready", ends on a's "done". Its
;       functions: `crasher` panics on a go; `victim` waits forever and has
;       a terminate block (set by itself: a spawner on another node cannot
;       set it) that prints its exit reason.
;   dist_link_crash a <a-name> <b-name>   b's crash reaches a: an actor
;       linked to a remote crasher (Node.spawn with link) dies with the
;       crash's reason, a trapping one gets EXIT from the remote pid with
;       it; a's crash reaches b: a remote victim linked to a crashing actor
;       of a dies with its reason (a's remote monitor sees it, b's
;       terminate block prints it).
; Every line is flushed at once (the driver waits for lines). Expected
; output: dist_link_crash.a.expected, dist_link_crash.b.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare void @snow_actor_send_named(ptr, i64, ptr, i64, ptr, i64)
declare void @snow_actor_register(ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare void @snow_actor_trap_exit()
declare void @snow_actor_set_terminate(i64, ptr)
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

@.name_crasher = private unnamed_addr constant [7 x i8] c"crasher"
@.name_victim = private unnamed_addr constant [6 x i8] c"victim"
@.name_terminate = private unnamed_addr constant [18 x i8] c"__terminate_victim"
@.host = private unnamed_addr constant [7 x i8] c"cg_host"
@.cookie = private unnamed_addr constant [8 x i8] c"cgcookie"
@.crash_b = private unnamed_addr constant [10 x i8] c"crash on b"
@.crash_a = private unnamed_addr constant [10 x i8] c"crash on a"
@.file = private unnamed_addr constant [20 x i8] c"dist_link_crash.snow"
@.fmt_ready = private unnamed_addr constant [10 x i8] c"b: ready\0A\00"
@.fmt_victim = private unnamed_addr constant [21 x i8] c"b: victim terminated\00"
@.fmt_done_b = private unnamed_addr constant [20 x i8] c"b: a said done: %s\0A\00"
@.fmt_connected = private unnamed_addr constant [24 x i8] c"a: connected to b: %ld\0A\00"
@.fmt_linked = private unnamed_addr constant [48 x i8] c"a: actor linked to a remote crasher died (DOWN)\00"
@.fmt_exit = private unnamed_addr constant [55 x i8] c"a: trapping actor got EXIT from the remote crasher: %s\00"
@.fmt_not_exit = private unnamed_addr constant [44 x i8] c"a: trapping actor got tag %ld, not an EXIT\0A\00"
@.fmt_remote = private unnamed_addr constant [51 x i8] c"a: remote victim linked to our crasher died (DOWN)\00"
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

; ---- b's functions ----

; actor crasher: waits for a go, then panics.
define void @crasher(ptr %args) {
entry:
  call void @snow_reduction_check()
  %go = call ptr @snow_actor_receive(i64 -1)
  call void @snow_panic(ptr @.crash_b, i64 10, ptr @.file, i64 20, i32 20)
  unreachable
}

; terminate do ... end of victim: prints the reason.
define void @__terminate_victim(ptr %state, ptr %reason) {
entry:
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_victim)
  call void @print_reason(ptr %reason)
  ret void
}

; actor victim: sets its own terminate block, then waits forever.
define void @victim(ptr %args) {
entry:
  %self = call i64 @snow_actor_self()
  call void @snow_actor_set_terminate(i64 %self, ptr @__terminate_victim)
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  br label %loop
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

; ---- a's actors ----

define void @send_int(i64 %to, i64 %v) {
entry:
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %v, ptr %m, align 8
  call void @snow_actor_send(i64 %to, ptr %m, i64 8)
  ret void
}

define i64 @receive_int(i32 %step) {
entry:
  %m = call ptr @snow_actor_receive(i64 10000)
  %a = call ptr @expect(ptr %m, i32 %step)
  %vp = getelementptr i8, ptr %a, i64 16
  %v = load i64, ptr %vp, align 8
  ret i64 %v
}

; Node.spawn_link(b, fname): the remote pid.
define i64 @spawn_link_on_b(ptr %fname, i64 %flen) {
entry:
  %peer = load ptr, ptr @g_peer, align 8
  %plen = call i64 @strlen(ptr %peer)
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %pid = call i64 @snow_node_spawn(ptr %peer, i64 %plen, ptr %fname, i64 %flen, ptr %args, i64 8, i8 1)
  ret i64 %pid
}

; actor linked(main): links to a crasher on b, hands main its pid, waits.
define void @linked(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %c = call i64 @spawn_link_on_b(ptr @.name_crasher, i64 7)
  call void @send_int(i64 %main, i64 %c)
  %m = call ptr @snow_actor_receive(i64 -1)
  ret void
}

; actor trapping(main): traps exits, links to a crasher on b, hands main
; its pid, prints the EXIT it gets, tells main.
define void @trapping(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  call void @snow_actor_trap_exit()
  %c = call i64 @spawn_link_on_b(ptr @.name_crasher, i64 7)
  call void @send_int(i64 %main, i64 %c)
  %m = call ptr @snow_actor_receive(i64 10000)
  %e = call ptr @expect(ptr %m, i32 20)
  %tag = load i64, ptr %e, align 8
  %is_exit = icmp eq i64 %tag, -1
  br i1 %is_exit, label %exit_msg, label %other
exit_msg:
  %fromp = getelementptr i8, ptr %e, i64 16
  %from = load i64, ptr %fromp, align 8
  %same = icmp eq i64 %from, %c
  %yn = select i1 %same, ptr @.yes, ptr @.no
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_exit, ptr %yn)
  %reason = getelementptr i8, ptr %e, i64 24
  call void @print_reason(ptr %reason)
  call void @send_int(i64 %main, i64 1)
  ret void
other:
  %po = call i32 (ptr, ...) @printf(ptr @.fmt_not_exit, i64 %tag)
  call void @flush()
  call void @send_int(i64 %main, i64 0)
  ret void
}

; actor crashing(main): links to a victim on b, hands main its pid, and
; panics on main's go.
define void @crashing(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %v = call i64 @spawn_link_on_b(ptr @.name_victim, i64 6)
  call void @send_int(i64 %main, i64 %v)
  %go = call ptr @snow_actor_receive(i64 -1)
  call void @snow_panic(ptr @.crash_a, i64 10, ptr @.file, i64 20, i32 30)
  unreachable
}

; Waits for a DOWN and prints "<label>, reason tag T text".
define void @print_down(ptr %label, i32 %step) {
entry:
  %m = call ptr @snow_actor_receive(i64 10000)
  %d = call ptr @expect(ptr %m, i32 %step)
  %p = call i32 (ptr, ...) @printf(ptr %label)
  %reason = getelementptr i8, ptr %d, i64 32
  call void @print_reason(ptr %reason)
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
  %self = call i64 @snow_actor_self()
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %self, ptr %args, align 8

  ; b's crash kills a's non-trapping linked actor
  %x = call i64 @snow_actor_spawn(ptr @linked, ptr %args, i64 8, i8 1)
  %c1 = call i64 @receive_int(i32 2)
  %rx = call i64 @snow_process_monitor(i64 %x)
  call void @send_int(i64 %c1, i64 1)
  call void @print_down(ptr @.fmt_linked, i32 3)
  call void @snow_reduction_check()

  ; a trapping one gets EXIT from the remote pid
  %y = call i64 @snow_actor_spawn(ptr @trapping, ptr %args, i64 8, i8 1)
  %c2 = call i64 @receive_int(i32 4)
  call void @send_int(i64 %c2, i64 1)
  %ok = call i64 @receive_int(i32 5)
  call void @snow_reduction_check()

  ; a's crash kills b's victim
  %z = call i64 @snow_actor_spawn(ptr @crashing, ptr %args, i64 8, i8 1)
  %v = call i64 @receive_int(i32 6)
  %rv = call i64 @snow_process_monitor(i64 %v)
  call void @send_int(i64 %z, i64 1)
  call void @print_down(ptr @.fmt_remote, i32 7)

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
  call void @snow_register_function(ptr @.name_crasher, i64 7, ptr @crasher)
  call void @snow_register_function(ptr @.name_victim, i64 6, ptr @victim)
  call void @snow_register_function(ptr @.name_terminate, i64 19, ptr @__terminate_victim)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
