; narrow_args.ll: the Snow compiler declares the runtime's uint8_t and
; bool parameters as plain i8 (no zeroext), so LLVM is free to pass them
; with garbage in bits 8..63 of the argument register or stack slot (the
; x86-64 psABI leaves those bits undefined; only clang's own convention
; extends to 32 bits, and a Snow caller does not follow it). This program
; passes such arguments on purpose: it calls each function through an i64
; parameter type whose upper bytes are 0xA5, the low byte being the real
; argument, and checks that the library acts on the low byte alone:
; snow_actor_exit's reason tag (2 kill, 4 shutdown, 5 custom), the spawn
; priority, snow_actor_set_trap_exit's bool and snow_node_spawn's link
; flag. The node is started under a name unique to this run (it uses the
; port mapper: label dist). Expected output: narrow_args.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare void @snow_actor_exit(i64, i8)
declare i1 @snow_actor_set_trap_exit(i1)
declare i64 @snow_process_monitor(i64)
declare i64 @snow_node_start(ptr, i64, ptr, i64)
declare i64 @snow_node_spawn(ptr, i64, ptr, i64, ptr, i64, i8)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare void @snow_panic(ptr, i64, ptr, i64, i32) noreturn
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
declare i32 @printf(ptr, ...)
declare i32 @snprintf(ptr, i64, ptr, ...)
declare i32 @getpid()
declare i32 @fflush(ptr)
declare void @_exit(i32) noreturn

@.name_idle = private unnamed_addr constant [4 x i8] c"idle"
@.name_spawner = private unnamed_addr constant [7 x i8] c"spawner"
@.name_trapper = private unnamed_addr constant [7 x i8] c"trapper"
@.node_fmt = private unnamed_addr constant [26 x i8] c"snowcg_narrow%d@127.0.0.1\00"
@.boom = private unnamed_addr constant [4 x i8] c"boom"
@.file = private unnamed_addr constant [16 x i8] c"narrow_args.snow"
@.cookie = private unnamed_addr constant [8 x i8] c"cgcookie"
@.fmt_exit = private unnamed_addr constant [54 x i8] c"exit tag 0xa5..%02x: returned %d, DOWN reason tag %u\0A\00"
@.fmt_spawn = private unnamed_addr constant [43 x i8] c"spawn priority 0xa5..%02x: child runs: %s\0A\00"
@.fmt_trap = private unnamed_addr constant [71 x i8] c"set_trap_exit 0xa5..01: previous %d, exit signal became a message: %s\0A\00"
@.fmt_node = private unnamed_addr constant [26 x i8] c"node: start failed (%ld)\0A\00"
@.fmt_link = private unnamed_addr constant [59 x i8] c"node_spawn link 0xa5..01: child linked (dies with us): %s\0A\00"
@.fmt_missing = private unnamed_addr constant [29 x i8] c"main: no answer for step %d\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"
@.yes = private unnamed_addr constant [4 x i8] c"yes\00"
@.no = private unnamed_addr constant [3 x i8] c"no\00"

; 0xA5A5A5A5A5A5A500 | low: what an i8 argument register may hold
define i64 @dirty(i64 %low) {
entry:
  %v = or i64 -6510615555426900736, %low
  ret i64 %v
}

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

; actor idle(parent): tells the parent it runs, then waits forever.
define void @idle(ptr %args) {
entry:
  %parent = load i64, ptr %args, align 8
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 1, ptr %m, align 8
  call void @snow_actor_send(i64 %parent, ptr %m, i64 8)
  br label %loop
loop:
  %x = call ptr @snow_actor_receive(i64 -1)
  br label %loop
}

define i64 @spawn_idle(i64 %priority_low) {
entry:
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %self = call i64 @snow_actor_self()
  store i64 %self, ptr %args, align 8
  %prio = call i64 @dirty(i64 %priority_low)
  %pid = call i64 (ptr, ptr, i64, i64) @snow_actor_spawn(ptr @idle, ptr %args, i64 8, i64 %prio)
  ret i64 %pid
}

; Spawns an idle actor, sends it exit(tag | garbage), prints the result
; and the reason of its DOWN.
define void @exit_case(i64 %tag) {
entry:
  %pid = call i64 @spawn_idle(i64 1)
  %up = call ptr @snow_actor_receive(i64 5000)
  %up_ok = call ptr @expect(ptr %up, i32 1)
  %ref = call i64 @snow_process_monitor(i64 %pid)
  %t = call i64 @dirty(i64 %tag)
  %rc = call i32 (i64, i64) @snow_actor_exit(i64 %pid, i64 %t)
  %down = call ptr @snow_actor_receive(i64 5000)
  %d = call ptr @expect(ptr %down, i32 2)
  %rp = getelementptr i8, ptr %d, i64 32
  %rtag = load i8, ptr %rp, align 1
  %rtag32 = zext i8 %rtag to i32
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_exit, i64 %tag, i32 %rc, i32 %rtag32)
  ret void
}

define void @spawn_case(i64 %prio) {
entry:
  %pid = call i64 @spawn_idle(i64 %prio)
  %up = call ptr @snow_actor_receive(i64 5000)
  %runs = icmp ne ptr %up, null
  %yn = select i1 %runs, ptr @.yes, ptr @.no
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_spawn, i64 %prio, ptr %yn)
  call void @snow_actor_exit(i64 %pid, i8 2)
  ret void
}

; actor trapper(main): set_trap_exit(true | garbage); sends itself exit
; shutdown; reports [previous][got an EXIT message] to main.
define void @trapper(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %on = call i64 @dirty(i64 1)
  %prev = call i8 (i64) @snow_actor_set_trap_exit(i64 %on)
  %self = call i64 @snow_actor_self()
  %sd = call i64 @dirty(i64 4)
  %rc = call i32 (i64, i64) @snow_actor_exit(i64 %self, i64 %sd)
  %m = call ptr @snow_actor_receive(i64 2000)
  %got = icmp ne ptr %m, null
  br i1 %got, label %tag, label %report
tag:
  %t = load i64, ptr %m, align 8
  %is_exit = icmp eq i64 %t, -1
  br label %report
report:
  %ok = phi i1 [ false, %entry ], [ %is_exit, %tag ]
  %out = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  %prevw = zext i8 %prev to i64
  store i64 %prevw, ptr %out, align 8
  %okp = getelementptr i8, ptr %out, i64 8
  %okw = zext i1 %ok to i64
  store i64 %okw, ptr %okp, align 8
  call void @snow_actor_send(i64 %main, ptr %out, i64 16)
  ret void
}
define void @snow_main() {
entry:
  %name = alloca [64 x i8], align 8
  call void @exit_case(i64 2)
  call void @exit_case(i64 4)
  call void @exit_case(i64 5)
  call void @snow_reduction_check()
  call void @spawn_case(i64 0)
  call void @spawn_case(i64 2)
  call void @snow_reduction_check()

  %self = call i64 @snow_actor_self()
  %targs = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %self, ptr %targs, align 8
  %tp = call i64 @snow_actor_spawn(ptr @trapper, ptr %targs, i64 8, i8 1)
  %tr = call ptr @snow_actor_receive(i64 5000)
  %trm = call ptr @expect(ptr %tr, i32 3)
  %prevp = getelementptr i8, ptr %trm, i64 16
  %prev = load i64, ptr %prevp, align 8
  %prev32 = trunc i64 %prev to i32
  %okp = getelementptr i8, ptr %trm, i64 24
  %ok = load i64, ptr %okp, align 8
  %okb = icmp eq i64 %ok, 1
  %yn = select i1 %okb, ptr @.yes, ptr @.no
  %pt = call i32 (ptr, ...) @printf(ptr @.fmt_trap, i32 %prev32, ptr %yn)
  call void @snow_reduction_check()

  %pid = call i32 @getpid()
  %n = call i32 (ptr, i64, ptr, ...) @snprintf(ptr %name, i64 64, ptr @.node_fmt, i32 %pid)
  %nlen = sext i32 %n to i64
  %rc = call i64 @snow_node_start(ptr %name, i64 %nlen, ptr @.cookie, i64 8)
  %started = icmp eq i64 %rc, 0
  br i1 %started, label %spawn, label %failed
failed:
  %pf = call i32 (ptr, ...) @printf(ptr @.fmt_node, i64 %rc)
  %f = call i32 @fflush(ptr null)
  call void @_exit(i32 2)
  unreachable
spawn:
  ; a spawner node_spawns idle(main) on this node with link 1 | garbage,
  ; hands main the child's pid, and crashes on main's go: the child dies
  ; with it only if the link was made.
  %sargs = call ptr @snow_gc_alloc_actor(i64 80, i64 8)
  store i64 %self, ptr %sargs, align 8
  %namep = getelementptr i8, ptr %sargs, i64 16
  call void @llvm.memcpy.p0.p0.i64(ptr %namep, ptr %name, i64 64, i1 false)
  %lenp = getelementptr i8, ptr %sargs, i64 8
  store i64 %nlen, ptr %lenp, align 8
  %sp = call i64 @snow_actor_spawn(ptr @spawner, ptr %sargs, i64 80, i8 1)
  %child_msg = call ptr @snow_actor_receive(i64 5000)
  %cm = call ptr @expect(ptr %child_msg, i32 4)
  %cpp = getelementptr i8, ptr %cm, i64 16
  %child = load i64, ptr %cpp, align 8
  %runs = call ptr @snow_actor_receive(i64 5000)
  %runs_ok = call ptr @expect(ptr %runs, i32 5)
  %ref = call i64 @snow_process_monitor(i64 %child)
  %go = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  call void @snow_actor_send(i64 %sp, ptr %go, i64 8)
  %down = call ptr @snow_actor_receive(i64 5000)
  %died = icmp ne ptr %down, null
  %yn2 = select i1 %died, ptr @.yes, ptr @.no
  %pl = call i32 (ptr, ...) @printf(ptr @.fmt_link, ptr %yn2)
  br i1 %died, label %done, label %cleanup
cleanup:
  call void @snow_actor_exit(i64 %child, i8 2)
  br label %done
done:
  %pe = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

; actor spawner(main, name_len, name[64])
define void @spawner(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %lenp = getelementptr i8, ptr %args, i64 8
  %len = load i64, ptr %lenp, align 8
  %name = getelementptr i8, ptr %args, i64 16
  %cargs = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %main, ptr %cargs, align 8
  %link = call i64 @dirty(i64 1)
  %child = call i64 (ptr, i64, ptr, i64, ptr, i64, i64) @snow_node_spawn(ptr %name, i64 %len, ptr @.name_idle, i64 4, ptr %cargs, i64 8, i64 %link)
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %child, ptr %m, align 8
  call void @snow_actor_send(i64 %main, ptr %m, i64 8)
  %go = call ptr @snow_actor_receive(i64 -1)
  call void @snow_panic(ptr @.boom, i64 4, ptr @.file, i64 16, i32 1)
  unreachable
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_idle, i64 4, ptr @idle)
  call void @snow_register_function(ptr @.name_trapper, i64 7, ptr @trapper)
  call void @snow_register_function(ptr @.name_spawner, i64 7, ptr @spawner)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
