; linking.ll: Snow's e2e "linking": an actor linked to one that crashes
; dies with the crash's reason when it does not trap exits (main sees it in
; its DOWN); one that traps exits gets an EXIT message [from][reason] from
; the crashed actor instead and lives on; a linked actor that returns
; normally kills nobody. Each linker spawns its partner, links to it
; (Process.link) and waits for main's go before telling the partner to
; end, so main's monitor is in place first.
; Expected output: linking.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare void @snow_actor_link(i64)
declare void @snow_actor_trap_exit()
declare i64 @snow_process_monitor(i64)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare void @snow_panic(ptr, i64, ptr, i64, i32) noreturn
declare i32 @printf(ptr, ...)
declare i32 @fflush(ptr)
declare void @_exit(i32) noreturn

@.name_partner = private unnamed_addr constant [7 x i8] c"partner"
@.name_linker = private unnamed_addr constant [6 x i8] c"linker"
@.name_trapper = private unnamed_addr constant [7 x i8] c"trapper"
@.name_watcher = private unnamed_addr constant [7 x i8] c"watcher"
@.crash = private unnamed_addr constant [12 x i8] c"linked crash"
@.file = private unnamed_addr constant [12 x i8] c"linking.snow"
@.fmt_down = private unnamed_addr constant [16 x i8] c"%s: DOWN tag %u\00"
@.fmt_text = private unnamed_addr constant [7 x i8] c" %.*s\0A\00"
@.fmt_nl = private unnamed_addr constant [2 x i8] c"\0A\00"
@.fmt_exit_from = private unnamed_addr constant [44 x i8] c"trapping linker: EXIT from its partner: %s\0A\00"
@.fmt_exit_reason = private unnamed_addr constant [36 x i8] c"trapping linker: EXIT reason tag %u\00"
@.fmt_not_exit = private unnamed_addr constant [43 x i8] c"trapping linker: got tag %ld, not an EXIT\0A\00"
@.fmt_survived = private unnamed_addr constant [35 x i8] c"non-trapping linker: survived (!)\0A\00"
@.fmt_alive = private unnamed_addr constant [54 x i8] c"linker of a partner that returned: alive, partner %s\0A\00"
@.fmt_missing = private unnamed_addr constant [29 x i8] c"main: no answer for step %d\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"
@.label_linker = private unnamed_addr constant [20 x i8] c"non-trapping linker\00"
@.label_trapper = private unnamed_addr constant [16 x i8] c"trapping linker\00"
@.normal = private unnamed_addr constant [16 x i8] c"exited normally\00"
@.not_normal = private unnamed_addr constant [22 x i8] c"exited abnormally (!)\00"
@.yes = private unnamed_addr constant [4 x i8] c"yes\00"
@.no = private unnamed_addr constant [3 x i8] c"no\00"

define ptr @expect(ptr %m, i32 %step) {
entry:
  %ok = icmp ne ptr %m, null
  br i1 %ok, label %good, label %bad
good:
  ret ptr %m
bad:
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_missing, i32 %step)
  %f = call i32 @fflush(ptr null)
  call void @_exit(i32 1)
  unreachable
}

; Prints " <text>" for a reason with text (error, custom), else a newline.
define void @print_reason_text(ptr %reason) {
entry:
  %tag = load i8, ptr %reason, align 1
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
  ret void
plain:
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_nl)
  ret void
}

; actor partner(mode): waits for a go, then panics (mode 1) or returns.
define void @partner(ptr %args) {
entry:
  %mode = load i64, ptr %args, align 8
  call void @snow_reduction_check()
  %go = call ptr @snow_actor_receive(i64 -1)
  %crash = icmp eq i64 %mode, 1
  br i1 %crash, label %panic, label %return
panic:
  call void @snow_panic(ptr @.crash, i64 12, ptr @.file, i64 12, i32 20)
  unreachable
return:
  ret void
}

define i64 @spawn_partner(i64 %mode) {
entry:
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %mode, ptr %args, align 8
  %p = call i64 @snow_actor_spawn(ptr @partner, ptr %args, i64 8, i8 1)
  ret i64 %p
}

define void @send_int(i64 %to, i64 %v) {
entry:
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %v, ptr %m, align 8
  call void @snow_actor_send(i64 %to, ptr %m, i64 8)
  ret void
}

; actor linker(main): links to a partner that will crash; after main's go
; it tells the partner to go and waits. It should die of the link.
define void @linker(ptr %args) {
entry:
  %p = call i64 @spawn_partner(i64 1)
  call void @snow_actor_link(i64 %p)
  call void @snow_reduction_check()
  %go = call ptr @snow_actor_receive(i64 -1)
  call void @send_int(i64 %p, i64 1)
  %m = call ptr @snow_actor_receive(i64 -1)
  %s = call i32 (ptr, ...) @printf(ptr @.fmt_survived)
  ret void
}

; actor trapper(main): traps exits, links to a partner that will crash,
; reports the EXIT message it gets, then tells main and returns.
define void @trapper(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  call void @snow_actor_trap_exit()
  %p = call i64 @spawn_partner(i64 1)
  call void @snow_actor_link(i64 %p)
  call void @snow_reduction_check()
  %go = call ptr @snow_actor_receive(i64 -1)
  call void @send_int(i64 %p, i64 1)
  %m = call ptr @snow_actor_receive(i64 5000)
  %m_ok = call ptr @expect(ptr %m, i32 10)
  %tag = load i64, ptr %m, align 8
  %is_exit = icmp eq i64 %tag, -1
  br i1 %is_exit, label %exit_msg, label %other
exit_msg:
  ; EXIT: data = [from][reason]
  %fromp = getelementptr i8, ptr %m, i64 16
  %from = load i64, ptr %fromp, align 8
  %from_partner = icmp eq i64 %from, %p
  %yn = select i1 %from_partner, ptr @.yes, ptr @.no
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_exit_from, ptr %yn)
  %reason = getelementptr i8, ptr %m, i64 24
  %rtag = load i8, ptr %reason, align 1
  %rtag32 = zext i8 %rtag to i32
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_exit_reason, i32 %rtag32)
  call void @print_reason_text(ptr %reason)
  call void @send_int(i64 %main, i64 2)
  ret void
other:
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_not_exit, i64 %tag)
  call void @send_int(i64 %main, i64 2)
  ret void
}

; actor watcher(main): links to a partner that returns normally, monitors
; it too, and after its DOWN tells main it is still alive (and how the
; partner ended).
define void @watcher(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %p = call i64 @spawn_partner(i64 0)
  call void @snow_actor_link(i64 %p)
  %ref = call i64 @snow_process_monitor(i64 %p)
  call void @snow_reduction_check()
  %go = call ptr @snow_actor_receive(i64 -1)
  call void @send_int(i64 %p, i64 1)
  %down = call ptr @snow_actor_receive(i64 5000)
  %d = call ptr @expect(ptr %down, i32 20)
  %rp = getelementptr i8, ptr %d, i64 32
  %rtag = load i8, ptr %rp, align 1
  call void @send_int(i64 %main, i64 3)
  %got = call ptr @snow_actor_receive(i64 -1)
  ; main tells the watcher to report after its own receive, so the
  ; watcher's line is printed while main waits for it
  %normal = icmp eq i8 %rtag, 0
  %how = select i1 %normal, ptr @.normal, ptr @.not_normal
  %pa = call i32 (ptr, ...) @printf(ptr @.fmt_alive, ptr %how)
  call void @send_int(i64 %main, i64 4)
  ret void
}

; Waits for the DOWN of a monitor and prints "<label>: DOWN tag T [text]".
define void @print_down(ptr %label, i32 %step) {
entry:
  %m = call ptr @snow_actor_receive(i64 5000)
  %d = call ptr @expect(ptr %m, i32 %step)
  %rp = getelementptr i8, ptr %d, i64 32
  %rtag = load i8, ptr %rp, align 1
  %rtag32 = zext i8 %rtag to i32
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_down, ptr %label, i32 %rtag32)
  call void @print_reason_text(ptr %rp)
  ret void
}

define void @snow_main() {
entry:
  %self = call i64 @snow_actor_self()
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %self, ptr %args, align 8

  ; a crash kills a non-trapping linker with the crash's reason
  %l = call i64 @snow_actor_spawn(ptr @linker, ptr %args, i64 8, i8 1)
  %lref = call i64 @snow_process_monitor(i64 %l)
  call void @send_int(i64 %l, i64 1)
  call void @print_down(ptr @.label_linker, i32 1)
  call void @snow_reduction_check()

  ; a trapping linker gets EXIT with the reason and returns normally
  %t = call i64 @snow_actor_spawn(ptr @trapper, ptr %args, i64 8, i8 1)
  %tref = call i64 @snow_process_monitor(i64 %t)
  call void @send_int(i64 %t, i64 1)
  %tr = call ptr @snow_actor_receive(i64 5000)
  %tr_ok = call ptr @expect(ptr %tr, i32 2)
  call void @print_down(ptr @.label_trapper, i32 3)
  call void @snow_reduction_check()

  ; a normal exit kills nobody
  %w = call i64 @snow_actor_spawn(ptr @watcher, ptr %args, i64 8, i8 1)
  call void @send_int(i64 %w, i64 1)
  %wr = call ptr @snow_actor_receive(i64 5000)
  %wr_ok = call ptr @expect(ptr %wr, i32 4)
  call void @send_int(i64 %w, i64 1)
  %wr2 = call ptr @snow_actor_receive(i64 5000)
  %wr2_ok = call ptr @expect(ptr %wr2, i32 5)
  %pe = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_partner, i64 7, ptr @partner)
  call void @snow_register_function(ptr @.name_linker, i64 6, ptr @linker)
  call void @snow_register_function(ptr @.name_trapper, i64 7, ptr @trapper)
  call void @snow_register_function(ptr @.name_watcher, i64 7, ptr @watcher)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
