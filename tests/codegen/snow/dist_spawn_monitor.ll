; dist_spawn_monitor.ll: two-node scenario "spawn and monitor on another
; node in one step" (snow_node_spawn_opts with opts.monitor, docs/abi.md
; section 8 item 31), one program run in two roles by dist_driver.py on
; 127.0.0.1:
;   dist_spawn_monitor b <b-name> <a-name>   the host: Node.start, registers
;       itself as cg_host, prints "b: ready", ends on a's "done" message;
;       its registered function `worker` waits for a text and panics with
;       it, `quick` prints a line and returns at once.
;   dist_spawn_monitor a <a-name> <b-name>   Node.start, Node.connect(b),
;       then with opts.monitor = 1:
;       - spawns `worker` on b: a pid and a monitor ref; sends it the crash
;         text: DOWN with that ref, the pid and the crash's reason;
;       - each option a remote spawn refuses (priority, stack_size,
;         terminate, a reserved byte, a reserved word): pid 0 and
;         monitor_ref overwritten with 0;
;       - an unknown function: pid 0 and monitor_ref 0 (b answers the
;         request with an error; docs/abi.md, snow_node_spawn);
;       - `quick`, which returns at once: DOWN `normal` (not noproc: the
;         monitor was in place before the child ran). Last, so that a stray
;         message left by the refused or failed spawns would be received
;         in place of this DOWN;
;       then "done" to cg_host on b.
; Every line is flushed at once (the driver waits for lines). Expected
; output: dist_spawn_monitor.a.expected, dist_spawn_monitor.b.expected.

; snow_spawn_opts as abi/include/snowrt.h lays it out (64 bytes): link,
; monitor, priority, reserved_[5], monitor_ref at 8, stack_size at 16,
; terminate at 24, reserved_words_[4] at 32. role_a prints the size and
; offsets this type gives, and the expected output holds the header's.
%snow_spawn_opts = type { i8, i8, i8, [5 x i8], i64, i64, ptr, [4 x i64] }

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare void @snow_actor_send(i64, ptr, i64)
declare void @snow_actor_send_named(ptr, i64, ptr, i64, ptr, i64)
declare void @snow_actor_register(ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i32 @snow_msg_kind(ptr)
declare i64 @snow_node_start(ptr, i64, ptr, i64)
declare i64 @snow_node_connect(ptr, i64)
declare i64 @snow_node_spawn_opts(ptr, i64, ptr, i64, ptr, i64, ptr)
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
@.name_quick = private unnamed_addr constant [5 x i8] c"quick"
@.name_unknown = private unnamed_addr constant [13 x i8] c"no_such_thing"
@.host = private unnamed_addr constant [7 x i8] c"cg_host"
@.cookie = private unnamed_addr constant [8 x i8] c"cgcookie"
@.crash = private unnamed_addr constant [16 x i8] c"crash on request"
@.file = private unnamed_addr constant [23 x i8] c"dist_spawn_monitor.snow"
@.fmt_ready = private unnamed_addr constant [10 x i8] c"b: ready\0A\00"
@.fmt_worker = private unnamed_addr constant [19 x i8] c"b: worker started\0A\00"
@.fmt_quick = private unnamed_addr constant [14 x i8] c"b: quick ran\0A\00"
@.fmt_done_b = private unnamed_addr constant [20 x i8] c"b: a said done: %s\0A\00"
@.fmt_connected = private unnamed_addr constant [24 x i8] c"a: connected to b: %ld\0A\00"
@.fmt_layout = private unnamed_addr constant [111 x i8] c"a: snow_spawn_opts: %ld bytes, monitor_ref at %ld, stack_size at %ld, terminate at %ld, reserved words at %ld\0A\00"
@.fmt_spawned = private unnamed_addr constant [51 x i8] c"a: spawned %.*s on b with monitor: pid %s, ref %s\0A\00"
@.fmt_down = private unnamed_addr constant [44 x i8] c"a: DOWN from %.*s (kind %u, ref %s, pid %s)\00"
@.fmt_failed = private unnamed_addr constant [46 x i8] c"a: %s with monitor: pid %lu, monitor_ref %lu\0A\00"
@.fmt_reason = private unnamed_addr constant [16 x i8] c", reason tag %u\00"
@.fmt_text = private unnamed_addr constant [7 x i8] c" %.*s\0A\00"
@.fmt_nl = private unnamed_addr constant [2 x i8] c"\0A\00"
@.fmt_start_failed = private unnamed_addr constant [29 x i8] c"%c: node start failed (%ld)\0A\00"
@.fmt_missing = private unnamed_addr constant [27 x i8] c"%c: no message at step %d\0A\00"
@.case_priority = private unnamed_addr constant [11 x i8] c"priority 1\00"
@.case_stack = private unnamed_addr constant [17 x i8] c"stack_size 65536\00"
@.case_terminate = private unnamed_addr constant [19 x i8] c"terminate callback\00"
@.case_reserved_byte = private unnamed_addr constant [15 x i8] c"reserved_[4] 1\00"
@.case_reserved_word = private unnamed_addr constant [21 x i8] c"reserved_words_[3] 1\00"
@.case_unknown = private unnamed_addr constant [31 x i8] c"unknown function no_such_thing\00"
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

; actor worker (spawned on b by a): panics with the text of its first
; message.
define void @worker(ptr %args) {
entry:
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_worker)
  call void @flush()
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %lenp = getelementptr i8, ptr %m, i64 8
  %len = load i64, ptr %lenp, align 8
  %text = getelementptr i8, ptr %m, i64 16
  call void @snow_panic(ptr %text, i64 %len, ptr @.file, i64 23, i32 7)
  unreachable
}

; actor quick (spawned on b by a): returns at once.
define void @quick(ptr %args) {
entry:
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_quick)
  call void @flush()
  ret void
}

; A terminate block, only ever offered to a remote spawn (which refuses it).
define void @on_terminate(ptr %state, ptr %reason) {
entry:
  ret void
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

; Zeroes the options, sets monitor and presets monitor_ref to `ref` (the
; call must overwrite it).
define void @opts_monitor(ptr %o, i64 %ref) {
entry:
  store %snow_spawn_opts zeroinitializer, ptr %o, align 8
  %monp = getelementptr %snow_spawn_opts, ptr %o, i32 0, i32 1
  store i8 1, ptr %monp, align 1
  %refp = getelementptr %snow_spawn_opts, ptr %o, i32 0, i32 4
  store i64 %ref, ptr %refp, align 8
  ret void
}

; Node.spawn(b, fname) with the options in %o; returns the pid.
define i64 @spawn_on_peer(ptr %fname, i64 %flen, ptr %o) {
entry:
  %peer = load ptr, ptr @g_peer, align 8
  %plen = call i64 @strlen(ptr %peer)
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %pid = call i64 @snow_node_spawn_opts(ptr %peer, i64 %plen, ptr %fname, i64 %flen, ptr %args, i64 8, ptr %o)
  ret i64 %pid
}

; A monitored spawn of fname on b with monitor_ref preset to 0: prints
; whether the pid and the ref are non-zero; returns the pid, the ref
; stays in %o.
define i64 @spawn_monitored(ptr %fname, i64 %flen, ptr %o) {
entry:
  call void @opts_monitor(ptr %o, i64 0)
  %pid = call i64 @spawn_on_peer(ptr %fname, i64 %flen, ptr %o)
  %refp = getelementptr %snow_spawn_opts, ptr %o, i32 0, i32 4
  %ref = load i64, ptr %refp, align 8
  %has_pid = icmp ne i64 %pid, 0
  %yp = select i1 %has_pid, ptr @.yes, ptr @.no
  %has_ref = icmp ne i64 %ref, 0
  %yr = select i1 %has_ref, ptr @.yes, ptr @.no
  %flen32 = trunc i64 %flen to i32
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_spawned, i32 %flen32, ptr %fname, ptr %yp, ptr %yr)
  call void @flush()
  ret i64 %pid
}

; Receives the next message, which must be the DOWN of the monitor whose
; ref is in %o, for pid (who, wlen: the function's name): prints its kind,
; whether ref and pid match, and its reason. DOWN: [ref][pid][reason] from
; offset 16.
define void @await_down(ptr %who, i32 %wlen, i64 %pid, ptr %o, i32 %step) {
entry:
  %m = call ptr @snow_actor_receive(i64 10000)
  %down = call ptr @expect(ptr %m, i32 %step)
  %kind = call i32 @snow_msg_kind(ptr %down)
  %wantp = getelementptr %snow_spawn_opts, ptr %o, i32 0, i32 4
  %want = load i64, ptr %wantp, align 8
  %refp = getelementptr i8, ptr %down, i64 16
  %ref = load i64, ptr %refp, align 8
  %same_ref = icmp eq i64 %ref, %want
  %yr = select i1 %same_ref, ptr @.yes, ptr @.no
  %pidp = getelementptr i8, ptr %down, i64 24
  %dpid = load i64, ptr %pidp, align 8
  %same_pid = icmp eq i64 %dpid, %pid
  %yp = select i1 %same_pid, ptr @.yes, ptr @.no
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_down, i32 %wlen, ptr %who, i32 %kind, ptr %yr, ptr %yp)
  %reason = getelementptr i8, ptr %down, i64 32
  call void @print_reason(ptr %reason)
  call void @snow_reduction_check()
  ret void
}

; A spawn that must fail (%o filled by the caller, monitor_ref preset to
; -1): prints the pid and the monitor_ref it left.
define void @print_failed(ptr %what, i64 %pid, ptr %o) {
entry:
  %refp = getelementptr %snow_spawn_opts, ptr %o, i32 0, i32 4
  %ref = load i64, ptr %refp, align 8
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_failed, ptr %what, i64 %pid, i64 %ref)
  call void @flush()
  ret void
}

; A spawn of `quick` with %o, which holds an option the call refuses
; (accepted, it would also show as one more "b: quick ran").
define void @refuse_case(ptr %what, ptr %o) {
entry:
  %pid = call i64 @spawn_on_peer(ptr @.name_quick, i64 5, ptr %o)
  call void @print_failed(ptr %what, i64 %pid, ptr %o)
  ret void
}

define void @role_a() {
entry:
  %o = alloca %snow_spawn_opts, align 8
  call void @start_node()
  %peer = load ptr, ptr @g_peer, align 8
  %plen = call i64 @strlen(ptr %peer)
  %rc = call i64 @snow_node_connect(ptr %peer, i64 %plen)
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_connected, i64 %rc)
  call void @flush()
  %size = ptrtoint ptr getelementptr (%snow_spawn_opts, ptr null, i32 1) to i64
  %off_ref = ptrtoint ptr getelementptr (%snow_spawn_opts, ptr null, i32 0, i32 4) to i64
  %off_stack = ptrtoint ptr getelementptr (%snow_spawn_opts, ptr null, i32 0, i32 5) to i64
  %off_term = ptrtoint ptr getelementptr (%snow_spawn_opts, ptr null, i32 0, i32 6) to i64
  %off_words = ptrtoint ptr getelementptr (%snow_spawn_opts, ptr null, i32 0, i32 7) to i64
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_layout, i64 %size, i64 %off_ref, i64 %off_stack, i64 %off_term, i64 %off_words)
  call void @flush()
  call void @snow_reduction_check()

  ; let (w, ref) = Node.spawn_monitor(b, worker); send w, "crash on request"
  %w = call i64 @spawn_monitored(ptr @.name_worker, i64 6, ptr %o)
  call void @snow_actor_send(i64 %w, ptr @.crash, i64 16)
  call void @await_down(ptr @.name_worker, i32 6, i64 %w, ptr %o, i32 1)

  ; options a remote spawn refuses, each alone beside monitor
  call void @opts_monitor(ptr %o, i64 -1)
  %priop = getelementptr %snow_spawn_opts, ptr %o, i32 0, i32 2
  store i8 1, ptr %priop, align 1
  call void @refuse_case(ptr @.case_priority, ptr %o)
  call void @opts_monitor(ptr %o, i64 -1)
  %stackp = getelementptr %snow_spawn_opts, ptr %o, i32 0, i32 5
  store i64 65536, ptr %stackp, align 8
  call void @refuse_case(ptr @.case_stack, ptr %o)
  call void @opts_monitor(ptr %o, i64 -1)
  %termp = getelementptr %snow_spawn_opts, ptr %o, i32 0, i32 6
  store ptr @on_terminate, ptr %termp, align 8
  call void @refuse_case(ptr @.case_terminate, ptr %o)
  call void @opts_monitor(ptr %o, i64 -1)
  %resbp = getelementptr %snow_spawn_opts, ptr %o, i32 0, i32 3, i32 4
  store i8 1, ptr %resbp, align 1
  call void @refuse_case(ptr @.case_reserved_byte, ptr %o)
  call void @opts_monitor(ptr %o, i64 -1)
  %reswp = getelementptr %snow_spawn_opts, ptr %o, i32 0, i32 7, i32 3
  store i64 1, ptr %reswp, align 8
  call void @refuse_case(ptr @.case_reserved_word, ptr %o)

  ; an unknown function, with monitor
  call void @opts_monitor(ptr %o, i64 -1)
  %u = call i64 @spawn_on_peer(ptr @.name_unknown, i64 13, ptr %o)
  call void @print_failed(ptr @.case_unknown, i64 %u, ptr %o)

  ; a child that returns at once: DOWN normal, not noproc
  %q = call i64 @spawn_monitored(ptr @.name_quick, i64 5, ptr %o)
  call void @await_down(ptr @.name_quick, i32 5, i64 %q, ptr %o, i32 2)

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
  call void @snow_register_function(ptr @.name_quick, i64 5, ptr @quick)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
