; typed_pids.ll: Snow's e2e "typed pids": a Pid<T> is an i64 value that
; the compiler stores in structs and copies into messages and spawn
; arguments like any other field. Main keeps three relays' pids in a
; struct; each relay gets its id and main's pid in a spawn-argument struct,
; answers with its self() (which must equal the stored value), then learns
; its successor's pid from a Setup message. A Token {kind, origin pid,
; hops, trail} goes around the ring twice, each relay appending its id,
; and the last relay sends it to the origin pid read from the token.
; Expected output: typed_pids.expected.

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

; struct RelayArgs { id :: Int, owner :: Pid<Int> }
%RelayArgs = type { i64, i64 }
; struct Relays { a :: Pid<Msg>, b :: Pid<Msg>, c :: Pid<Msg> }
%Relays = type { i64, i64, i64 }
; type Msg = Setup(next :: Pid<Msg>) | Token(origin :: Pid<Token>, hops :: Int, trail :: Int)
; laid out as { kind, a, b, c }: Setup = {1, next, 0, 0}, Token = {2, origin, hops, trail}
%Msg = type { i64, i64, i64, i64 }

@.name_relay = private unnamed_addr constant [5 x i8] c"relay"
@.fmt_selves = private unnamed_addr constant [56 x i8] c"relays: pids kept in a struct, self() matches each: %s\0A\00"
@.fmt_token = private unnamed_addr constant [49 x i8] c"token: trail %ld after %ld hops, back at origin\0A\00"
@.fmt_origin = private unnamed_addr constant [37 x i8] c"token: origin pid is main's pid: %s\0A\00"
@.fmt_missing = private unnamed_addr constant [29 x i8] c"main: no answer for step %d\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"
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

; actor relay(args :: RelayArgs)
define void @relay(ptr %args) {
entry:
  %next = alloca i64, align 8
  %out = alloca %Msg, align 8
  %ra = load %RelayArgs, ptr %args, align 8
  %id = extractvalue %RelayArgs %ra, 0
  %owner = extractvalue %RelayArgs %ra, 1
  ; send owner, self()
  %self = call i64 @snow_actor_self()
  %sm = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %self, ptr %sm, align 8
  call void @snow_actor_send(i64 %owner, ptr %sm, i64 8)
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %mp = getelementptr i8, ptr %m, i64 16
  %msg = load %Msg, ptr %mp, align 8
  %kind = extractvalue %Msg %msg, 0
  switch i64 %kind, label %loop [ i64 1, label %setup
                                  i64 2, label %token ]
setup:
  %n = extractvalue %Msg %msg, 1
  store i64 %n, ptr %next, align 8
  br label %loop
token:
  %origin = extractvalue %Msg %msg, 1
  %hops = extractvalue %Msg %msg, 2
  %trail = extractvalue %Msg %msg, 3
  %hops1 = add i64 %hops, 1
  %t10 = mul i64 %trail, 10
  %trail1 = add i64 %t10, %id
  %t1 = insertvalue %Msg { i64 2, i64 undef, i64 undef, i64 undef }, i64 %origin, 1
  %t2 = insertvalue %Msg %t1, i64 %hops1, 2
  %t3 = insertvalue %Msg %t2, i64 %trail1, 3
  store %Msg %t3, ptr %out, align 8
  %done = icmp sge i64 %hops1, 6
  %nx = load i64, ptr %next, align 8
  %to = select i1 %done, i64 %origin, i64 %nx
  call void @snow_actor_send(i64 %to, ptr %out, i64 32)
  br label %loop
}

define i64 @spawn_relay(i64 %id, i64 %owner) {
entry:
  %args = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  %a1 = insertvalue %RelayArgs undef, i64 %id, 0
  %a2 = insertvalue %RelayArgs %a1, i64 %owner, 1
  store %RelayArgs %a2, ptr %args, align 8
  %p = call i64 @snow_actor_spawn(ptr @relay, ptr %args, i64 16, i8 1)
  ret i64 %p
}

; Receives a relay's self() and compares it with the pid spawn returned.
define i1 @self_matches(i64 %pid, i32 %step) {
entry:
  %m = call ptr @snow_actor_receive(i64 5000)
  %a = call ptr @expect(ptr %m, i32 %step)
  %vp = getelementptr i8, ptr %a, i64 16
  %v = load i64, ptr %vp, align 8
  %eq = icmp eq i64 %v, %pid
  ret i1 %eq
}

define void @setup(i64 %relay, i64 %next) {
entry:
  %m = call ptr @snow_gc_alloc_actor(i64 32, i64 8)
  %s = insertvalue %Msg { i64 1, i64 undef, i64 0, i64 0 }, i64 %next, 1
  store %Msg %s, ptr %m, align 8
  call void @snow_actor_send(i64 %relay, ptr %m, i64 32)
  ret void
}

define void @snow_main() {
entry:
  %relays = alloca %Relays, align 8
  %self = call i64 @snow_actor_self()
  %a = call i64 @spawn_relay(i64 1, i64 %self)
  %ok_a = call i1 @self_matches(i64 %a, i32 1)
  %b = call i64 @spawn_relay(i64 2, i64 %self)
  %ok_b = call i1 @self_matches(i64 %b, i32 2)
  %c = call i64 @spawn_relay(i64 3, i64 %self)
  %ok_c = call i1 @self_matches(i64 %c, i32 3)
  %r1 = insertvalue %Relays undef, i64 %a, 0
  %r2 = insertvalue %Relays %r1, i64 %b, 1
  %r3 = insertvalue %Relays %r2, i64 %c, 2
  store %Relays %r3, ptr %relays, align 8
  %ok_ab = and i1 %ok_a, %ok_b
  %ok = and i1 %ok_ab, %ok_c
  %yn = select i1 %ok, ptr @.yes, ptr @.no
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_selves, ptr %yn)
  call void @snow_reduction_check()

  ; wire the ring from the struct: a -> b -> c -> a
  %rs = load %Relays, ptr %relays, align 8
  %ra = extractvalue %Relays %rs, 0
  %rb = extractvalue %Relays %rs, 1
  %rc = extractvalue %Relays %rs, 2
  call void @setup(i64 %ra, i64 %rb)
  call void @setup(i64 %rb, i64 %rc)
  call void @setup(i64 %rc, i64 %ra)

  ; send a, Token(self(), 0, 0)
  %tok = call ptr @snow_gc_alloc_actor(i64 32, i64 8)
  %t = insertvalue %Msg { i64 2, i64 undef, i64 0, i64 0 }, i64 %self, 1
  store %Msg %t, ptr %tok, align 8
  call void @snow_actor_send(i64 %ra, ptr %tok, i64 32)
  %back = call ptr @snow_actor_receive(i64 5000)
  %bk = call ptr @expect(ptr %back, i32 4)
  %bp = getelementptr i8, ptr %bk, i64 16
  %bm = load %Msg, ptr %bp, align 8
  %origin = extractvalue %Msg %bm, 1
  %hops = extractvalue %Msg %bm, 2
  %trail = extractvalue %Msg %bm, 3
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_token, i64 %trail, i64 %hops)
  %same = icmp eq i64 %origin, %self
  %yn2 = select i1 %same, ptr @.yes, ptr @.no
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_origin, ptr %yn2)
  %p4 = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ; the relays wait forever: ended with shutdown once main returns
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_relay, i64 5, ptr @relay)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
