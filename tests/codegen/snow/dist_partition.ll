; dist_partition.ll: two-node scenario "SIGSTOP partition" (Snow's e2e
; list), one program run in two roles by dist_driver.py on 127.0.0.1, both
; with a short tick time (Node.set_ticktime, argument 4, in ms):
;   dist_partition b <b-name> <a-name> <tick>   Node.start, prints
;       "b: ready"; its function `partner` has a terminate block (set by
;       itself) that sends b's main its exit reason tag. The driver freezes
;       b with SIGSTOP, later resumes it with SIGCONT: its two partners,
;       linked to actors of a, then end with noconnection and b's main
;       prints both reasons and returns.
;   dist_partition a <a-name> <b-name> <tick>   Node.start, Node.connect(b),
;       Node.monitor(b); a trapping actor and a plain one each Node.spawn a
;       linked partner on b; main monitors the trapping one's partner and
;       the plain actor, prints "a: ready for the partition", then collects
;       four events caused by b's silence (within 0.75 to 1.25 tick times,
;       which the driver checks): DOWN noconnection for the remote partner,
;       DOWN noconnection for the plain actor (killed by its link), the
;       trapping actor's EXIT noconnection from its partner, NODEDOWN b.
; Every line is flushed at once (the driver waits for lines). Expected
; output: dist_partition.a.expected, dist_partition.b.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare void @snow_actor_trap_exit()
declare void @snow_actor_set_terminate(i64, ptr)
declare i64 @snow_process_monitor(i64)
declare i64 @snow_node_start(ptr, i64, ptr, i64)
declare i64 @snow_node_connect(ptr, i64)
declare i64 @snow_node_monitor(ptr, i64)
declare i64 @snow_node_spawn(ptr, i64, ptr, i64, ptr, i64, i8)
declare i64 @snow_node_set_ticktime(i32)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare i32 @printf(ptr, ...)
declare i32 @fflush(ptr)
declare i64 @strlen(ptr)
declare i32 @atoi(ptr)
declare void @_exit(i32) noreturn

@g_role = global i8 0
@g_self = global ptr null
@g_peer = global ptr null
@g_tick = global i32 0
@g_main = global i64 0

@.name_partner = private unnamed_addr constant [7 x i8] c"partner"
@.name_terminate = private unnamed_addr constant [19 x i8] c"__terminate_partner"
@.cookie = private unnamed_addr constant [8 x i8] c"cgcookie"
@.fmt_ready = private unnamed_addr constant [10 x i8] c"b: ready\0A\00"
@.fmt_partner = private unnamed_addr constant [36 x i8] c"b: a partner ended, reason tag %ld\0A\00"
@.fmt_connected = private unnamed_addr constant [24 x i8] c"a: connected to b: %ld\0A\00"
@.fmt_ready_a = private unnamed_addr constant [28 x i8] c"a: ready for the partition\0A\00"
@.fmt_remote = private unnamed_addr constant [55 x i8] c"a: monitor of the remote partner: DOWN, reason tag %d\0A\00"
@.fmt_plain = private unnamed_addr constant [49 x i8] c"a: linked plain actor died: DOWN, reason tag %d\0A\00"
@.fmt_trap = private unnamed_addr constant [61 x i8] c"a: trapping actor: EXIT from its partner: %s, reason tag %d\0A\00"
@.fmt_nodedown = private unnamed_addr constant [17 x i8] c"a: NODEDOWN: %s\0A\00"
@.fmt_other = private unnamed_addr constant [36 x i8] c"a: unexpected message, tag %ld (!)\0A\00"
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

; Node.set_ticktime(tick); Node.start(self name) or exit 2.
define void @start_node() {
entry:
  %self = load ptr, ptr @g_self, align 8
  %len = call i64 @strlen(ptr %self)
  %tick = load i32, ptr @g_tick, align 4
  %t = call i64 @snow_node_set_ticktime(i32 %tick)
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

; ---- b ----

; terminate do ... end of partner: send b's main the reason tag.
define void @__terminate_partner(ptr %state, ptr %reason) {
entry:
  %tag = load i8, ptr %reason, align 1
  %tag64 = zext i8 %tag to i64
  %main = load i64, ptr @g_main, align 8
  call void @send_int(i64 %main, i64 %tag64)
  ret void
}

; actor partner: sets its own terminate block, waits forever.
define void @partner(ptr %args) {
entry:
  %self = call i64 @snow_actor_self()
  call void @snow_actor_set_terminate(i64 %self, ptr @__terminate_partner)
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  br label %loop
}

define void @role_b() {
entry:
  %self = call i64 @snow_actor_self()
  store i64 %self, ptr @g_main, align 8
  call void @start_node()
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_ready)
  call void @flush()
  %t1 = call i64 @receive_int_long(i32 1)
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_partner, i64 %t1)
  call void @flush()
  %t2 = call i64 @receive_int_long(i32 2)
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_partner, i64 %t2)
  call void @flush()
  ret void
}

; receive_int with a deadline long enough for the driver's freeze.
define i64 @receive_int_long(i32 %step) {
entry:
  %m = call ptr @snow_actor_receive(i64 120000)
  %a = call ptr @expect(ptr %m, i32 %step)
  %vp = getelementptr i8, ptr %a, i64 16
  %v = load i64, ptr %vp, align 8
  ret i64 %v
}

; ---- a ----

; Node.spawn_link(b, "partner"): the remote pid.
define i64 @spawn_partner() {
entry:
  %peer = load ptr, ptr @g_peer, align 8
  %plen = call i64 @strlen(ptr %peer)
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %pid = call i64 @snow_node_spawn(ptr %peer, i64 %plen, ptr @.name_partner, i64 7, ptr %args, i64 8, i8 1)
  ret i64 %pid
}

; actor plain(main): linked to a partner on b; hands main its pid; waits.
define void @plain(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %c = call i64 @spawn_partner()
  call void @send_int(i64 %main, i64 %c)
  %m = call ptr @snow_actor_receive(i64 -1)
  ret void
}

; actor trapping(main): traps exits, linked to a partner on b; hands main
; its pid; sends main [-7][from == partner][reason tag] for the EXIT.
define void @trapping(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  call void @snow_actor_trap_exit()
  %c = call i64 @spawn_partner()
  call void @send_int(i64 %main, i64 %c)
  %m = call ptr @snow_actor_receive(i64 -1)
  %tag = load i64, ptr %m, align 8
  %is_exit = icmp eq i64 %tag, -1
  %fromp = getelementptr i8, ptr %m, i64 16
  %from = load i64, ptr %fromp, align 8
  %same = icmp eq i64 %from, %c
  %ok = and i1 %is_exit, %same
  %rp = getelementptr i8, ptr %m, i64 24
  %rtag = load i8, ptr %rp, align 1
  %out = call ptr @snow_gc_alloc_actor(i64 24, i64 8)
  store i64 -7, ptr %out, align 8
  %okp = getelementptr i8, ptr %out, i64 8
  %okw = zext i1 %ok to i64
  store i64 %okw, ptr %okp, align 8
  %tp = getelementptr i8, ptr %out, i64 16
  %rtag64 = zext i8 %rtag to i64
  store i64 %rtag64, ptr %tp, align 8
  call void @snow_actor_send(i64 %main, ptr %out, i64 24)
  ret void
}

define void @role_a() {
entry:
  %remote_tag = alloca i32, align 4
  %plain_tag = alloca i32, align 4
  %trap_tag = alloca i32, align 4
  %trap_from = alloca ptr, align 8
  %nodedown = alloca ptr, align 8
  %left = alloca i32, align 4
  call void @start_node()
  %peer = load ptr, ptr @g_peer, align 8
  %plen = call i64 @strlen(ptr %peer)
  %rc = call i64 @snow_node_connect(ptr %peer, i64 %plen)
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_connected, i64 %rc)
  call void @flush()
  %id = call i64 @snow_node_monitor(ptr %peer, i64 %plen)
  %self = call i64 @snow_actor_self()
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %self, ptr %args, align 8
  %t = call i64 @snow_actor_spawn(ptr @trapping, ptr %args, i64 8, i8 1)
  %ct = call i64 @receive_int(i32 1)
  %x = call i64 @snow_actor_spawn(ptr @plain, ptr %args, i64 8, i8 1)
  %cx = call i64 @receive_int(i32 2)
  %ref_remote = call i64 @snow_process_monitor(i64 %ct)
  %ref_plain = call i64 @snow_process_monitor(i64 %x)
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_ready_a)
  call void @flush()

  store i32 -1, ptr %remote_tag, align 4
  store i32 -1, ptr %plain_tag, align 4
  store i32 -1, ptr %trap_tag, align 4
  store ptr @.no, ptr %trap_from, align 8
  store ptr @.no, ptr %nodedown, align 8
  store i32 4, ptr %left, align 4
  br label %collect
collect:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 60000)
  %e = call ptr @expect(ptr %m, i32 3)
  %tag = load i64, ptr %e, align 8
  switch i64 %tag, label %other [ i64 -2, label %down
                                  i64 -3, label %node_down
                                  i64 -7, label %trap_report ]
down:
  ; DOWN: [ref][pid][reason]
  %refp = getelementptr i8, ptr %e, i64 16
  %ref = load i64, ptr %refp, align 8
  %rp = getelementptr i8, ptr %e, i64 32
  %r = load i8, ptr %rp, align 1
  %r32 = zext i8 %r to i32
  %is_remote = icmp eq i64 %ref, %ref_remote
  %slot = select i1 %is_remote, ptr %remote_tag, ptr %plain_tag
  store i32 %r32, ptr %slot, align 4
  br label %next
node_down:
  store ptr @.yes, ptr %nodedown, align 8
  br label %next
trap_report:
  %okp = getelementptr i8, ptr %e, i64 24
  %ok = load i64, ptr %okp, align 8
  %okb = icmp eq i64 %ok, 1
  %yn = select i1 %okb, ptr @.yes, ptr @.no
  store ptr %yn, ptr %trap_from, align 8
  %tgp = getelementptr i8, ptr %e, i64 32
  %tg = load i64, ptr %tgp, align 8
  %tg32 = trunc i64 %tg to i32
  store i32 %tg32, ptr %trap_tag, align 4
  br label %next
other:
  %po = call i32 (ptr, ...) @printf(ptr @.fmt_other, i64 %tag)
  call void @flush()
  br label %next
next:
  %l = load i32, ptr %left, align 4
  %l1 = sub i32 %l, 1
  store i32 %l1, ptr %left, align 4
  %more = icmp sgt i32 %l1, 0
  br i1 %more, label %collect, label %report
report:
  %rt = load i32, ptr %remote_tag, align 4
  %q1 = call i32 (ptr, ...) @printf(ptr @.fmt_remote, i32 %rt)
  %pt = load i32, ptr %plain_tag, align 4
  %q2 = call i32 (ptr, ...) @printf(ptr @.fmt_plain, i32 %pt)
  %tf = load ptr, ptr %trap_from, align 8
  %tt = load i32, ptr %trap_tag, align 4
  %q3 = call i32 (ptr, ...) @printf(ptr @.fmt_trap, ptr %tf, i32 %tt)
  %nd = load ptr, ptr %nodedown, align 8
  %q4 = call i32 (ptr, ...) @printf(ptr @.fmt_nodedown, ptr %nd)
  call void @flush()
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

; main(argc, argv): role, own node name, peer node name, tick time in ms.
define i32 @main(i32 %argc, ptr %argv) {
entry:
  %enough = icmp sge i32 %argc, 5
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
  %a4 = getelementptr ptr, ptr %argv, i64 4
  %tick_s = load ptr, ptr %a4, align 8
  %tick = call i32 @atoi(ptr %tick_s)
  store i32 %tick, ptr @g_tick, align 4
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_partner, i64 7, ptr @partner)
  call void @snow_register_function(ptr @.name_terminate, i64 19, ptr @__terminate_partner)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
