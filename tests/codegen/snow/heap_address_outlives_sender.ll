; heap_address_outlives_sender.ll: Snow sends heap values by address (a
; String is its 8-byte pointer in a message or a spawn argument), so a
; value must stay valid while another process can reach it, even after
; the process that allocated it has exited (ABI.md v2 section 6, "Values
; carried by messages"; issue 10 item 8). A producer sends main a String
; and exits; a spawner hands a String to its child and exits; other actors
; then allocate and exit (so freed memory is reused) before main and the
; child read the strings: the shared region (docs/design/heap.md) keeps
; them after their owners exited.
; Expected output: heap_address_outlives_sender.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare ptr @snow_actor_receive(i64)
declare i64 @snow_actor_self()
declare i64 @snow_process_monitor(i64)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
declare i32 @printf(ptr, ...)
declare i32 @fflush(ptr)
declare void @_exit(i32) noreturn

@.name_producer = private unnamed_addr constant [8 x i8] c"producer"
@.name_spawner = private unnamed_addr constant [7 x i8] c"spawner"
@.name_reader = private unnamed_addr constant [6 x i8] c"reader"
@.name_churn = private unnamed_addr constant [5 x i8] c"churn"
@.text_msg = private unnamed_addr constant [32 x i8] c"sent by an actor that has exited"
@.text_arg = private unnamed_addr constant [34 x i8] c"given by a spawner that has exited"
@.fmt_msg = private unnamed_addr constant [27 x i8] c"message: the string reads \00"
@.fmt_arg = private unnamed_addr constant [42 x i8] c"spawn argument: the child's string reads \00"
@.fmt_str = private unnamed_addr constant [8 x i8] c"\22%.*s\22\0A\00"
@.fmt_bad = private unnamed_addr constant [24 x i8] c"corrupted (length %lu)\0A\00"
@.fmt_missing = private unnamed_addr constant [29 x i8] c"main: no answer for step %d\0A\00"
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

; String.new(bytes, len) in the caller's heap: [len][bytes]
define ptr @string_new(ptr %bytes, i64 %len) {
entry:
  %size = add i64 %len, 8
  %s = call ptr @snow_gc_alloc_actor(i64 %size, i64 8)
  store i64 %len, ptr %s, align 8
  %b = getelementptr i8, ptr %s, i64 8
  call void @llvm.memcpy.p0.p0.i64(ptr %b, ptr %bytes, i64 %len, i1 false)
  ret ptr %s
}

; Prints "<label>"<text>"" for a String, or "<label>corrupted (length N)"
; when its length field no longer makes sense.
define void @print_string(ptr %label, ptr %s) {
entry:
  %p0 = call i32 (ptr, ...) @printf(ptr %label)
  %len = load i64, ptr %s, align 8
  %sane = icmp ult i64 %len, 100
  br i1 %sane, label %good, label %bad
good:
  %len32 = trunc i64 %len to i32
  %t = getelementptr i8, ptr %s, i64 8
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_str, i32 %len32, ptr %t)
  ret void
bad:
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_bad, i64 %len)
  ret void
}

; actor producer(main): send main, "sent by ..." (its address); return.
define void @producer(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %s = call ptr @string_new(ptr @.text_msg, i64 32)
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store ptr %s, ptr %m, align 8
  call void @snow_actor_send(i64 %main, ptr %m, i64 8)
  ret void
}

; actor reader(main, s :: String): waits for main's go, prints s, tells main.
define void @reader(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %sp = getelementptr i8, ptr %args, i64 8
  %s = load ptr, ptr %sp, align 8
  %go = call ptr @snow_actor_receive(i64 -1)
  call void @print_string(ptr @.fmt_arg, ptr %s)
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 1, ptr %m, align 8
  call void @snow_actor_send(i64 %main, ptr %m, i64 8)
  ret void
}

; actor spawner(main): spawn reader(main, "given by ..."); send main the
; reader's pid; return.
define void @spawner(ptr %args) {
entry:
  %main = load i64, ptr %args, align 8
  %s = call ptr @string_new(ptr @.text_arg, i64 34)
  %rargs = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %main, ptr %rargs, align 8
  %sp = getelementptr i8, ptr %rargs, i64 8
  store ptr %s, ptr %sp, align 8
  %r = call i64 @snow_actor_spawn(ptr @reader, ptr %rargs, i64 16, i8 1)
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %r, ptr %m, align 8
  call void @snow_actor_send(i64 %main, ptr %m, i64 8)
  ret void
}

; actor churn(main): allocates 64 strings of the same sizes, tells main, returns.
define void @churn(ptr %args) {
entry:
  %i = alloca i64, align 8
  %main = load i64, ptr %args, align 8
  store i64 0, ptr %i, align 8
  br label %loop
loop:
  %k = load i64, ptr %i, align 8
  %a = call ptr @string_new(ptr @.text_arg, i64 32)
  %b = call ptr @string_new(ptr @.text_arg, i64 34)
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp ult i64 %k1, 64
  br i1 %more, label %loop, label %done
done:
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  call void @snow_actor_send(i64 %main, ptr %m, i64 8)
  ret void
}

; Spawns 100 churn actors one after the other (each allocates, then exits).
define void @churn_heap(ptr %args) {
entry:
  %i = alloca i64, align 8
  store i64 0, ptr %i, align 8
  br label %loop
loop:
  %k = load i64, ptr %i, align 8
  %c = call i64 @snow_actor_spawn(ptr @churn, ptr %args, i64 8, i8 1)
  %ref = call i64 @snow_process_monitor(i64 %c)
  %done = call ptr @snow_actor_receive(i64 5000)
  %d1 = call ptr @expect(ptr %done, i32 10)
  %down = call ptr @snow_actor_receive(i64 5000)
  %d2 = call ptr @expect(ptr %down, i32 11)
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp ult i64 %k1, 100
  br i1 %more, label %loop, label %out
out:
  ret void
}

define void @snow_main() {
entry:
  %self = call i64 @snow_actor_self()
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %self, ptr %args, align 8

  ; a String in a message from an actor that has exited since
  %p = call i64 @snow_actor_spawn(ptr @producer, ptr %args, i64 8, i8 1)
  %pref = call i64 @snow_process_monitor(i64 %p)
  %m = call ptr @snow_actor_receive(i64 5000)
  %mm = call ptr @expect(ptr %m, i32 1)
  %sp = getelementptr i8, ptr %mm, i64 16
  %s = load ptr, ptr %sp, align 8
  %down = call ptr @snow_actor_receive(i64 5000)
  %dd = call ptr @expect(ptr %down, i32 2)
  call void @churn_heap(ptr %args)
  call void @print_string(ptr @.fmt_msg, ptr %s)
  call void @snow_reduction_check()

  ; a String in spawn arguments from a spawner that has exited since
  %sn = call i64 @snow_actor_spawn(ptr @spawner, ptr %args, i64 8, i8 1)
  %sref = call i64 @snow_process_monitor(i64 %sn)
  %rm = call ptr @snow_actor_receive(i64 5000)
  %rmm = call ptr @expect(ptr %rm, i32 3)
  %rp = getelementptr i8, ptr %rmm, i64 16
  %reader = load i64, ptr %rp, align 8
  %sdown = call ptr @snow_actor_receive(i64 5000)
  %sd = call ptr @expect(ptr %sdown, i32 4)
  call void @churn_heap(ptr %args)
  %go = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  call void @snow_actor_send(i64 %reader, ptr %go, i64 8)
  %rd = call ptr @snow_actor_receive(i64 5000)
  %rdd = call ptr @expect(ptr %rd, i32 5)
  %pe = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_producer, i64 8, ptr @producer)
  call void @snow_register_function(ptr @.name_spawner, i64 7, ptr @spawner)
  call void @snow_register_function(ptr @.name_reader, i64 6, ptr @reader)
  call void @snow_register_function(ptr @.name_churn, i64 5, ptr @churn)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
