; actors_basic.ll: Snow's e2e "actors basic": an actor spawned with
; arguments answers a message; an actor keeps state across messages in its
; receive loop and reports it when told to stop; an actor spawns an actor
; of its own, which reaches main through the pid passed down in the spawn
; arguments; every actor's self() differs from main's. Actors send values
; to main and only main prints, so the output order is fixed.
; Expected output: actors_basic.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare i32 @printf(ptr, ...)
declare i32 @fflush(ptr)
declare void @_exit(i32) noreturn

@.name_doubler = private unnamed_addr constant [7 x i8] c"doubler"
@.name_counter = private unnamed_addr constant [7 x i8] c"counter"
@.name_parent = private unnamed_addr constant [6 x i8] c"parent"
@.name_child = private unnamed_addr constant [5 x i8] c"child"
@.fmt_doubled = private unnamed_addr constant [25 x i8] c"doubler: 21 doubled %ld\0A\00"
@.fmt_counter = private unnamed_addr constant [39 x i8] c"counter: total %ld after %ld messages\0A\00"
@.fmt_child = private unnamed_addr constant [43 x i8] c"child of an actor: %ld (self differs: %s)\0A\00"
@.fmt_selves = private unnamed_addr constant [33 x i8] c"main: every self() distinct: %s\0A\00"
@.fmt_missing = private unnamed_addr constant [29 x i8] c"main: no answer for step %d\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"
@.yes = private unnamed_addr constant [4 x i8] c"yes\00"
@.no = private unnamed_addr constant [3 x i8] c"no\00"

; actor doubler(parent): receives an Int, sends back [value * 2][self].
define void @doubler(ptr %args) {
entry:
  %parent = load i64, ptr %args, align 8
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %vp = getelementptr i8, ptr %m, i64 16
  %v = load i64, ptr %vp, align 8
  %r = mul i64 %v, 2
  %out = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %r, ptr %out, align 8
  %selfp = getelementptr i8, ptr %out, i64 8
  %self = call i64 @snow_actor_self()
  store i64 %self, ptr %selfp, align 8
  call void @snow_actor_send(i64 %parent, ptr %out, i64 16)
  ret void
}

; actor counter(parent, total = 0, n = 0): adds every Int it receives; a
; message [0] (stop) makes it send [total][n] to the parent and return.
define void @counter(ptr %args) {
entry:
  %total = alloca i64, align 8
  %n = alloca i64, align 8
  %parent = load i64, ptr %args, align 8
  store i64 0, ptr %total, align 8
  store i64 0, ptr %n, align 8
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %vp = getelementptr i8, ptr %m, i64 16
  %v = load i64, ptr %vp, align 8
  %stop = icmp eq i64 %v, 0
  br i1 %stop, label %report, label %add
add:
  %t = load i64, ptr %total, align 8
  %t1 = add i64 %t, %v
  store i64 %t1, ptr %total, align 8
  %k = load i64, ptr %n, align 8
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %n, align 8
  br label %loop
report:
  %out = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  %tf = load i64, ptr %total, align 8
  store i64 %tf, ptr %out, align 8
  %np = getelementptr i8, ptr %out, i64 8
  %nf = load i64, ptr %n, align 8
  store i64 %nf, ptr %np, align 8
  call void @snow_actor_send(i64 %parent, ptr %out, i64 16)
  ret void
}

; actor child(main, value): sends [value][self] to main.
define void @child(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %valp = getelementptr i8, ptr %args, i64 8
  %val = load i64, ptr %valp, align 8
  %out = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %val, ptr %out, align 8
  %selfp = getelementptr i8, ptr %out, i64 8
  %self = call i64 @snow_actor_self()
  store i64 %self, ptr %selfp, align 8
  call void @snow_actor_send(i64 %main, ptr %out, i64 16)
  ret void
}

; actor parent(main): spawns child(main, 7) and returns.
define void @parent(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %cargs = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %main, ptr %cargs, align 8
  %valp = getelementptr i8, ptr %cargs, i64 8
  store i64 7, ptr %valp, align 8
  %c = call i64 @snow_actor_spawn(ptr @child, ptr %cargs, i64 16, i8 1)
  call void @snow_reduction_check()
  ret void
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

define ptr @yes_no(i1 %c) {
entry:
  %s = select i1 %c, ptr @.yes, ptr @.no
  ret ptr %s
}

define void @snow_main() {
entry:
  %i = alloca i64, align 8
  %self = call i64 @snow_actor_self()
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %self, ptr %args, align 8

  ; let d = spawn doubler(self()); send d, 21; receive
  %d = call i64 @snow_actor_spawn(ptr @doubler, ptr %args, i64 8, i8 1)
  %msg = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 21, ptr %msg, align 8
  call void @snow_actor_send(i64 %d, ptr %msg, i64 8)
  %m1 = call ptr @snow_actor_receive(i64 5000)
  %a1 = call ptr @expect(ptr %m1, i32 1)
  %r1p = getelementptr i8, ptr %a1, i64 16
  %r1 = load i64, ptr %r1p, align 8
  %d_selfp = getelementptr i8, ptr %a1, i64 24
  %d_self = load i64, ptr %d_selfp, align 8
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_doubled, i64 %r1)
  call void @snow_reduction_check()

  ; let c = spawn counter(self()); send c, 1..5; send c, 0
  %c = call i64 @snow_actor_spawn(ptr @counter, ptr %args, i64 8, i8 1)
  store i64 1, ptr %i, align 8
  br label %count
count:
  %k = load i64, ptr %i, align 8
  %cm = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %k, ptr %cm, align 8
  call void @snow_actor_send(i64 %c, ptr %cm, i64 8)
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp sle i64 %k1, 5
  br i1 %more, label %count, label %stop
stop:
  %sm = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 0, ptr %sm, align 8
  call void @snow_actor_send(i64 %c, ptr %sm, i64 8)
  %m2 = call ptr @snow_actor_receive(i64 5000)
  %a2 = call ptr @expect(ptr %m2, i32 2)
  %totp = getelementptr i8, ptr %a2, i64 16
  %tot = load i64, ptr %totp, align 8
  %cntp = getelementptr i8, ptr %a2, i64 24
  %cnt = load i64, ptr %cntp, align 8
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_counter, i64 %tot, i64 %cnt)
  call void @snow_reduction_check()

  ; spawn parent(self()), which spawns child(self(), 7)
  %pa = call i64 @snow_actor_spawn(ptr @parent, ptr %args, i64 8, i8 1)
  %m3 = call ptr @snow_actor_receive(i64 5000)
  %a3 = call ptr @expect(ptr %m3, i32 3)
  %cvp = getelementptr i8, ptr %a3, i64 16
  %cv = load i64, ptr %cvp, align 8
  %c_selfp = getelementptr i8, ptr %a3, i64 24
  %c_self = load i64, ptr %c_selfp, align 8
  %cdiff1 = icmp ne i64 %c_self, %self
  %cdiff2 = icmp ne i64 %c_self, %pa
  %cdiff3 = icmp ne i64 %c_self, 0
  %cd12 = and i1 %cdiff1, %cdiff2
  %cdiff = and i1 %cd12, %cdiff3
  %cs = call ptr @yes_no(i1 %cdiff)
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_child, i64 %cv, ptr %cs)

  ; the doubler's self() is the pid spawn returned; all differ from main's
  %e1 = icmp eq i64 %d_self, %d
  %e2 = icmp ne i64 %d, %self
  %e3 = icmp ne i64 %c, %self
  %e4 = icmp ne i64 %c, %d
  %e5 = icmp ne i64 %pa, %c
  %e12 = and i1 %e1, %e2
  %e34 = and i1 %e3, %e4
  %e1234 = and i1 %e12, %e34
  %all = and i1 %e1234, %e5
  %as = call ptr @yes_no(i1 %all)
  %p4 = call i32 (ptr, ...) @printf(ptr @.fmt_selves, ptr %as)
  %p5 = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_doubler, i64 7, ptr @doubler)
  call void @snow_register_function(ptr @.name_counter, i64 7, ptr @counter)
  call void @snow_register_function(ptr @.name_parent, i64 6, ptr @parent)
  call void @snow_register_function(ptr @.name_child, i64 5, ptr @child)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
