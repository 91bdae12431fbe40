; messaging.ll: Snow's e2e "messaging": messages of several shapes and
; sizes as the compiler builds them (an Int, a few bytes, nothing, a
; struct by value, an Int whose bits equal a reserved system tag, a String
; sent as its 8-byte heap address, 1 MiB of bytes) arrive intact, with the
; tag the runtime derives from their first bytes, the payload at +16; and
; two senders' 10000 numbered messages each reach one receiver in each
; sender's order. The String's sender stays alive until main has read it
; (what happens when it does not is heap_address_outlives_sender.ll).
; Expected output: messaging.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare i32 @snow_msg_kind(ptr)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare i32 @printf(ptr, ...)
declare i32 @fflush(ptr)
declare void @_exit(i32) noreturn

%Point = type { i64, i64, i8 }

@.name_shapes = private unnamed_addr constant [6 x i8] c"shapes"
@.name_sequence = private unnamed_addr constant [8 x i8] c"sequence"
@.hello = private unnamed_addr constant [13 x i8] c"hello, world!"
@.fmt_int = private unnamed_addr constant [34 x i8] c"int: tag %lu, len %lu, value %ld\0A\00"
@.fmt_bytes = private unnamed_addr constant [44 x i8] c"3 bytes: tag 0x%lx, len %lu, data %u %u %u\0A\00"
@.fmt_empty = private unnamed_addr constant [25 x i8] c"empty: tag %lu, len %lu\0A\00"
@.fmt_struct = private unnamed_addr constant [40 x i8] c"struct: len %lu, x %ld, y %ld, flag %u\0A\00"
@.fmt_minus1 = private unnamed_addr constant [46 x i8] c"int -1: tag 0x%lx, kind %u (user), value %ld\0A\00"
@.fmt_string = private unnamed_addr constant [36 x i8] c"string by address: len %lu, \22%.*s\22\0A\00"
@.fmt_big = private unnamed_addr constant [35 x i8] c"1 MiB: len %lu, %lu bytes as sent\0A\00"
@.fmt_order = private unnamed_addr constant [51 x i8] c"order: %ld + %ld messages, each sender's in order\0A\00"
@.fmt_disorder = private unnamed_addr constant [52 x i8] c"order: sender %ld sent %ld, expected %ld: mixed up\0A\00"
@.fmt_missing = private unnamed_addr constant [29 x i8] c"main: no message at step %d\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"

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

; The byte at offset i of the 1 MiB message.
define i8 @pattern(i64 %i) {
entry:
  %a = mul i64 %i, 31
  %b = urem i64 %a, 251
  %c = trunc i64 %b to i8
  ret i8 %c
}

; actor shapes(main): sends one message of each shape, then waits for
; main's acknowledgement before it returns (its heap holds the String).
define void @shapes(ptr %args) {
entry:
  %i = alloca i64, align 8
  %main = load i64, ptr %args, align 8

  ; send main, 42
  %int = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 42, ptr %int, align 8
  call void @snow_actor_send(i64 %main, ptr %int, i64 8)
  call void @snow_reduction_check()

  ; three bytes
  %three = call ptr @snow_gc_alloc_actor(i64 3, i64 1)
  store i8 1, ptr %three, align 1
  %b2 = getelementptr i8, ptr %three, i64 1
  store i8 2, ptr %b2, align 1
  %b3 = getelementptr i8, ptr %three, i64 2
  store i8 3, ptr %b3, align 1
  call void @snow_actor_send(i64 %main, ptr %three, i64 3)
  call void @snow_reduction_check()

  ; nothing (a unit message)
  call void @snow_actor_send(i64 %main, ptr %three, i64 0)
  call void @snow_reduction_check()

  ; send main, Point{x: 3, y: -4, flag: true}: the struct's bytes
  %pt = alloca %Point, align 8
  store %Point { i64 3, i64 -4, i8 1 }, ptr %pt, align 8
  call void @snow_actor_send(i64 %main, ptr %pt, i64 24)
  call void @snow_reduction_check()

  ; send main, -1: its first eight bytes equal the EXIT tag
  %m1 = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 -1, ptr %m1, align 8
  call void @snow_actor_send(i64 %main, ptr %m1, i64 8)
  call void @snow_reduction_check()

  ; send main, "hello, world!": a SnowString [len][bytes] in this
  ; process's heap, sent as its address
  %str = call ptr @snow_gc_alloc_actor(i64 21, i64 8)
  store i64 13, ptr %str, align 8
  %sbytes = getelementptr i8, ptr %str, i64 8
  call void @llvm.memcpy.p0.p0.i64(ptr %sbytes, ptr @.hello, i64 13, i1 false)
  %sref = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store ptr %str, ptr %sref, align 8
  call void @snow_actor_send(i64 %main, ptr %sref, i64 8)
  call void @snow_reduction_check()

  ; 1 MiB of bytes
  %big = call ptr @snow_gc_alloc_actor(i64 1048576, i64 8)
  store i64 0, ptr %i, align 8
  br label %fill
fill:
  %k = load i64, ptr %i, align 8
  %v = call i8 @pattern(i64 %k)
  %slot = getelementptr i8, ptr %big, i64 %k
  store i8 %v, ptr %slot, align 1
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp ult i64 %k1, 1048576
  br i1 %more, label %fill, label %send_big
send_big:
  call void @snow_actor_send(i64 %main, ptr %big, i64 1048576)
  %ack = call ptr @snow_actor_receive(i64 -1)
  ret void
}

; actor sequence(main, id): sends [id][n] for n = 0..9999.
define void @sequence(ptr %args) {
entry:
  %i = alloca i64, align 8
  %main = load i64, ptr %args, align 8
  %idp = getelementptr i8, ptr %args, i64 8
  %id = load i64, ptr %idp, align 8
  store i64 0, ptr %i, align 8
  br label %loop
loop:
  %n = load i64, ptr %i, align 8
  %msg = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %id, ptr %msg, align 8
  %np = getelementptr i8, ptr %msg, i64 8
  store i64 %n, ptr %np, align 8
  call void @snow_actor_send(i64 %main, ptr %msg, i64 16)
  %n1 = add i64 %n, 1
  store i64 %n1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp ult i64 %n1, 10000
  br i1 %more, label %loop, label %done
done:
  ret void
}

define i64 @load_at(ptr %m, i64 %off) {
entry:
  %p = getelementptr i8, ptr %m, i64 %off
  %v = load i64, ptr %p, align 8
  ret i64 %v
}

define void @snow_main() {
entry:
  %i = alloca i64, align 8
  %same = alloca i64, align 8
  %next = alloca [2 x i64], align 8
  %self = call i64 @snow_actor_self()
  %args = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %self, ptr %args, align 8
  %sender = call i64 @snow_actor_spawn(ptr @shapes, ptr %args, i64 8, i8 1)

  %m1 = call ptr @snow_actor_receive(i64 5000)
  %a1 = call ptr @expect(ptr %m1, i32 1)
  %t1 = call i64 @load_at(ptr %a1, i64 0)
  %l1 = call i64 @load_at(ptr %a1, i64 8)
  %v1 = call i64 @load_at(ptr %a1, i64 16)
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_int, i64 %t1, i64 %l1, i64 %v1)

  %m2 = call ptr @snow_actor_receive(i64 5000)
  %a2 = call ptr @expect(ptr %m2, i32 2)
  %t2 = call i64 @load_at(ptr %a2, i64 0)
  %l2 = call i64 @load_at(ptr %a2, i64 8)
  %d0p = getelementptr i8, ptr %a2, i64 16
  %d0 = load i8, ptr %d0p, align 1
  %d1p = getelementptr i8, ptr %a2, i64 17
  %d1 = load i8, ptr %d1p, align 1
  %d2p = getelementptr i8, ptr %a2, i64 18
  %d2 = load i8, ptr %d2p, align 1
  %d0w = zext i8 %d0 to i32
  %d1w = zext i8 %d1 to i32
  %d2w = zext i8 %d2 to i32
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_bytes, i64 %t2, i64 %l2, i32 %d0w, i32 %d1w, i32 %d2w)

  %m3 = call ptr @snow_actor_receive(i64 5000)
  %a3 = call ptr @expect(ptr %m3, i32 3)
  %t3 = call i64 @load_at(ptr %a3, i64 0)
  %l3 = call i64 @load_at(ptr %a3, i64 8)
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_empty, i64 %t3, i64 %l3)

  %m4 = call ptr @snow_actor_receive(i64 5000)
  %a4 = call ptr @expect(ptr %m4, i32 4)
  %l4 = call i64 @load_at(ptr %a4, i64 8)
  %ptp = getelementptr i8, ptr %a4, i64 16
  %pt = load %Point, ptr %ptp, align 8
  %x = extractvalue %Point %pt, 0
  %y = extractvalue %Point %pt, 1
  %flag = extractvalue %Point %pt, 2
  %flagw = zext i8 %flag to i32
  %p4 = call i32 (ptr, ...) @printf(ptr @.fmt_struct, i64 %l4, i64 %x, i64 %y, i32 %flagw)

  %m5 = call ptr @snow_actor_receive(i64 5000)
  %a5 = call ptr @expect(ptr %m5, i32 5)
  %t5 = call i64 @load_at(ptr %a5, i64 0)
  %k5 = call i32 @snow_msg_kind(ptr %a5)
  %v5 = call i64 @load_at(ptr %a5, i64 16)
  %p5 = call i32 (ptr, ...) @printf(ptr @.fmt_minus1, i64 %t5, i32 %k5, i64 %v5)

  %m6 = call ptr @snow_actor_receive(i64 5000)
  %a6 = call ptr @expect(ptr %m6, i32 6)
  %sp = getelementptr i8, ptr %a6, i64 16
  %s = load ptr, ptr %sp, align 8
  %slen = load i64, ptr %s, align 8
  %slen32 = trunc i64 %slen to i32
  %stext = getelementptr i8, ptr %s, i64 8
  %p6 = call i32 (ptr, ...) @printf(ptr @.fmt_string, i64 %slen, i32 %slen32, ptr %stext)

  %m7 = call ptr @snow_actor_receive(i64 5000)
  %a7 = call ptr @expect(ptr %m7, i32 7)
  %l7 = call i64 @load_at(ptr %a7, i64 8)
  store i64 0, ptr %i, align 8
  store i64 0, ptr %same, align 8
  br label %check
check:
  %k = load i64, ptr %i, align 8
  %off = add i64 %k, 16
  %bp = getelementptr i8, ptr %a7, i64 %off
  %b = load i8, ptr %bp, align 1
  %want = call i8 @pattern(i64 %k)
  %eq = icmp eq i8 %b, %want
  %eqw = zext i1 %eq to i64
  %sm = load i64, ptr %same, align 8
  %sm1 = add i64 %sm, %eqw
  store i64 %sm1, ptr %same, align 8
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp ult i64 %k1, %l7
  br i1 %more, label %check, label %checked
checked:
  %smf = load i64, ptr %same, align 8
  %p7 = call i32 (ptr, ...) @printf(ptr @.fmt_big, i64 %l7, i64 %smf)
  %ack = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 1, ptr %ack, align 8
  call void @snow_actor_send(i64 %sender, ptr %ack, i64 8)

  ; two senders, 10000 messages each; each sender's arrive in order
  %args0 = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %self, ptr %args0, align 8
  %args1 = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %self, ptr %args1, align 8
  %id1p = getelementptr i8, ptr %args1, i64 8
  store i64 1, ptr %id1p, align 8
  %s0 = call i64 @snow_actor_spawn(ptr @sequence, ptr %args0, i64 16, i8 1)
  %s1 = call i64 @snow_actor_spawn(ptr @sequence, ptr %args1, i64 16, i8 1)
  %n0p = getelementptr [2 x i64], ptr %next, i64 0, i64 0
  store i64 0, ptr %n0p, align 8
  %n1p = getelementptr [2 x i64], ptr %next, i64 0, i64 1
  store i64 0, ptr %n1p, align 8
  store i64 0, ptr %i, align 8
  br label %order
order:
  %q = load i64, ptr %i, align 8
  %mo = call ptr @snow_actor_receive(i64 5000)
  %ao = call ptr @expect(ptr %mo, i32 8)
  %from = call i64 @load_at(ptr %ao, i64 16)
  %seq = call i64 @load_at(ptr %ao, i64 24)
  %slot = getelementptr [2 x i64], ptr %next, i64 0, i64 %from
  %expected = load i64, ptr %slot, align 8
  %inorder = icmp eq i64 %seq, %expected
  br i1 %inorder, label %advance, label %disorder
advance:
  %e1 = add i64 %expected, 1
  store i64 %e1, ptr %slot, align 8
  %q1 = add i64 %q, 1
  store i64 %q1, ptr %i, align 8
  call void @snow_reduction_check()
  %more_o = icmp ult i64 %q1, 20000
  br i1 %more_o, label %order, label %ordered
disorder:
  %pd = call i32 (ptr, ...) @printf(ptr @.fmt_disorder, i64 %from, i64 %seq, i64 %expected)
  %f = call i32 @fflush(ptr null)
  call void @_exit(i32 1)
  unreachable
ordered:
  %c0 = load i64, ptr %n0p, align 8
  %c1 = load i64, ptr %n1p, align 8
  %p8 = call i32 (ptr, ...) @printf(ptr @.fmt_order, i64 %c0, i64 %c1)
  %p9 = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_shapes, i64 6, ptr @shapes)
  call void @snow_register_function(ptr @.name_sequence, i64 8, ptr @sequence)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
