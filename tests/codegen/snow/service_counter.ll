; service_counter.ll: Snow's e2e "service counter": a service with an Int
; state, started with an initial value, lowered as Snow lowers services: a
; loop actor receiving [tag][caller][args] messages that calls a handler
; per tag and replies through snow_service_reply; call helpers around
; snow_service_call read the reply at +16 without a NULL check. Main and
; three client actors (100 increments each, interleaved) call it; every
; increment is counted once.
; Expected output: service_counter.expected.

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
declare ptr @snow_service_call(i64, i64, ptr, i64)
declare void @snow_service_reply(i64, ptr, i64)
declare i32 @printf(ptr, ...)
declare i32 @fflush(ptr)
declare void @_exit(i32) noreturn

@.name_loop = private unnamed_addr constant [22 x i8] c"__service_counter_loop"
@.name_client = private unnamed_addr constant [6 x i8] c"client"
@.fmt_start = private unnamed_addr constant [33 x i8] c"counter: started at 10, get %ld\0A\00"
@.fmt_inc = private unnamed_addr constant [35 x i8] c"counter: increment from main: %ld\0A\00"
@.fmt_clients = private unnamed_addr constant [69 x i8] c"counter: 3 clients x 100 increments, each client's replies rise: %s\0A\00"
@.fmt_total = private unnamed_addr constant [30 x i8] c"counter: get after them: %ld\0A\00"
@.yes = private unnamed_addr constant [4 x i8] c"yes\00"
@.no = private unnamed_addr constant [3 x i8] c"no\00"
@.fmt_missing = private unnamed_addr constant [29 x i8] c"main: no answer for step %d\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"

; service Counter do
;   fn init(start :: Int) -> Int do start end
;   call get() :: Int do |count| (count, count) end            (tag 1)
;   call increment() :: Int do |count| (count + 1, count + 1) end (tag 2)
; end
define i64 @__service_counter_handle_get(i64 %state, i64 %caller) {
entry:
  %reply = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %state, ptr %reply, align 8
  call void @snow_service_reply(i64 %caller, ptr %reply, i64 8)
  ret i64 %state
}

define i64 @__service_counter_handle_increment(i64 %state, i64 %caller) {
entry:
  %next = add i64 %state, 1
  %reply = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %next, ptr %reply, align 8
  call void @snow_service_reply(i64 %caller, ptr %reply, i64 8)
  ret i64 %next
}

define void @__service_counter_loop(ptr %args) {
entry:
  %state = alloca i64, align 8
  %init = load i64, ptr %args, align 8
  store i64 %init, ptr %state, align 8
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %data = getelementptr i8, ptr %m, i64 16
  %tag = load i64, ptr %data, align 8
  %callerp = getelementptr i8, ptr %data, i64 8
  %caller = load i64, ptr %callerp, align 8
  %s = load i64, ptr %state, align 8
  switch i64 %tag, label %loop [ i64 1, label %get
                                 i64 2, label %increment ]
get:
  %s1 = call i64 @__service_counter_handle_get(i64 %s, i64 %caller)
  store i64 %s1, ptr %state, align 8
  br label %loop
increment:
  %s2 = call i64 @__service_counter_handle_increment(i64 %s, i64 %caller)
  store i64 %s2, ptr %state, align 8
  br label %loop
}

; Counter.start(n)
define i64 @__service_counter_start(i64 %n) {
entry:
  %args = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %n, ptr %args, align 8
  %pid = call i64 @snow_actor_spawn(ptr @__service_counter_loop, ptr %args, i64 8, i8 1)
  ret i64 %pid
}

; Counter.get(pid), Counter.increment(pid): no arguments, an empty payload
define i64 @__service_counter_call_get(i64 %pid) {
entry:
  %payload = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %r = call ptr @snow_service_call(i64 %pid, i64 1, ptr %payload, i64 0)
  %vp = getelementptr i8, ptr %r, i64 16
  %v = load i64, ptr %vp, align 8
  ret i64 %v
}

define i64 @__service_counter_call_increment(i64 %pid) {
entry:
  %payload = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %r = call ptr @snow_service_call(i64 %pid, i64 2, ptr %payload, i64 0)
  %vp = getelementptr i8, ptr %r, i64 16
  %v = load i64, ptr %vp, align 8
  ret i64 %v
}

; actor client(main, counter): 100 increments; sends main 1 if every reply
; was larger than the one before, else 0.
define void @client(ptr %args) {
entry:
  %i = alloca i64, align 8
  %last = alloca i64, align 8
  %rising = alloca i64, align 8
  %main = load i64, ptr %args, align 8
  %cp = getelementptr i8, ptr %args, i64 8
  %counter = load i64, ptr %cp, align 8
  store i64 0, ptr %i, align 8
  store i64 0, ptr %last, align 8
  store i64 1, ptr %rising, align 8
  br label %loop
loop:
  %k = load i64, ptr %i, align 8
  %v = call i64 @__service_counter_call_increment(i64 %counter)
  call void @snow_reduction_check()
  %l = load i64, ptr %last, align 8
  %up = icmp sgt i64 %v, %l
  %r = load i64, ptr %rising, align 8
  %upw = zext i1 %up to i64
  %r1 = and i64 %r, %upw
  store i64 %r1, ptr %rising, align 8
  store i64 %v, ptr %last, align 8
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  %more = icmp ult i64 %k1, 100
  br i1 %more, label %loop, label %done
done:
  %m = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %rf = load i64, ptr %rising, align 8
  store i64 %rf, ptr %m, align 8
  call void @snow_actor_send(i64 %main, ptr %m, i64 8)
  ret void
}

define i64 @receive_int(i32 %step) {
entry:
  %m = call ptr @snow_actor_receive(i64 10000)
  %ok = icmp ne ptr %m, null
  br i1 %ok, label %good, label %bad
good:
  %vp = getelementptr i8, ptr %m, i64 16
  %v = load i64, ptr %vp, align 8
  ret i64 %v
bad:
  %p = call i32 (ptr, ...) @printf(ptr @.fmt_missing, i32 %step)
  %f = call i32 @fflush(ptr null)
  call void @_exit(i32 1)
  unreachable
}

define void @snow_main() {
entry:
  %self = call i64 @snow_actor_self()
  %c = call i64 @__service_counter_start(i64 10)
  %g0 = call i64 @__service_counter_call_get(i64 %c)
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_start, i64 %g0)
  %i1 = call i64 @__service_counter_call_increment(i64 %c)
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_inc, i64 %i1)
  call void @snow_reduction_check()

  %args = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %self, ptr %args, align 8
  %cp = getelementptr i8, ptr %args, i64 8
  store i64 %c, ptr %cp, align 8
  %a = call i64 @snow_actor_spawn(ptr @client, ptr %args, i64 16, i8 1)
  %b = call i64 @snow_actor_spawn(ptr @client, ptr %args, i64 16, i8 1)
  %d = call i64 @snow_actor_spawn(ptr @client, ptr %args, i64 16, i8 1)
  %ra = call i64 @receive_int(i32 1)
  %rb = call i64 @receive_int(i32 2)
  %rd = call i64 @receive_int(i32 3)
  %rab = and i64 %ra, %rb
  %rall = and i64 %rab, %rd
  %rising = icmp eq i64 %rall, 1
  %yn = select i1 %rising, ptr @.yes, ptr @.no
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_clients, ptr %yn)
  %g1 = call i64 @__service_counter_call_get(i64 %c)
  %p4 = call i32 (ptr, ...) @printf(ptr @.fmt_total, i64 %g1)
  %pe = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ; the service waits forever: ended with shutdown once main returns
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_loop, i64 22, ptr @__service_counter_loop)
  call void @snow_register_function(ptr @.name_client, i64 6, ptr @client)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
