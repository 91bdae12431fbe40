; service_call_cast.ll: Snow's e2e "service call + cast": a cast is a plain
; send of [tag][0][args] that never waits (the handler sends no reply); a
; call is snow_service_call(pid, tag, args) whose reply the helper reads at
; +16 (and +24 for a two-field reply) without a NULL check. A client's
; casts are handled before its later call (one sender's messages keep
; their order), a call carries several arguments, and a call handler may
; itself call another service while its caller waits.
; Expected output: service_call_cast.expected.

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

@.name_acc = private unnamed_addr constant [22 x i8] c"__service_account_loop"
@.name_proxy = private unnamed_addr constant [20 x i8] c"__service_proxy_loop"
@.fmt_casts = private unnamed_addr constant [52 x i8] c"call_cast: cast add 5, cast add 7, call total: %ld\0A\00"
@.fmt_more = private unnamed_addr constant [49 x i8] c"call_cast: 100 casts of 1, then call total: %ld\0A\00"
@.fmt_two = private unnamed_addr constant [66 x i8] c"call_cast: call with two arguments, two-field reply: %ld and %ld\0A\00"
@.fmt_nested = private unnamed_addr constant [56 x i8] c"call_cast: a call handler calling another service: %ld\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"

; service Account (state: total :: Int)
;   cast add(n)          tag 1: total + n, no reply
;   call total() :: Int  tag 2: replies total
;   call mix(a, b)       tag 3: replies (a + b + total, a * b)
define i64 @__service_account_handle_add(i64 %state, ptr %args) {
entry:
  %n = load i64, ptr %args, align 8
  %s = add i64 %state, %n
  ret i64 %s
}

define i64 @__service_account_handle_total(i64 %state, i64 %caller) {
entry:
  %reply = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %state, ptr %reply, align 8
  call void @snow_service_reply(i64 %caller, ptr %reply, i64 8)
  ret i64 %state
}

define i64 @__service_account_handle_mix(i64 %state, i64 %caller, ptr %args) {
entry:
  %a = load i64, ptr %args, align 8
  %bp = getelementptr i8, ptr %args, i64 8
  %b = load i64, ptr %bp, align 8
  %ab = add i64 %a, %b
  %sum = add i64 %ab, %state
  %prod = mul i64 %a, %b
  %reply = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %sum, ptr %reply, align 8
  %pp = getelementptr i8, ptr %reply, i64 8
  store i64 %prod, ptr %pp, align 8
  call void @snow_service_reply(i64 %caller, ptr %reply, i64 16)
  ret i64 %state
}

define void @__service_account_loop(ptr %args) {
entry:
  %state = alloca i64, align 8
  store i64 0, ptr %state, align 8
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %data = getelementptr i8, ptr %m, i64 16
  %tag = load i64, ptr %data, align 8
  %callerp = getelementptr i8, ptr %data, i64 8
  %caller = load i64, ptr %callerp, align 8
  %hargs = getelementptr i8, ptr %data, i64 16
  %s = load i64, ptr %state, align 8
  switch i64 %tag, label %loop [ i64 1, label %add
                                 i64 2, label %total
                                 i64 3, label %mix ]
add:
  %s1 = call i64 @__service_account_handle_add(i64 %s, ptr %hargs)
  store i64 %s1, ptr %state, align 8
  br label %loop
total:
  %s2 = call i64 @__service_account_handle_total(i64 %s, i64 %caller)
  store i64 %s2, ptr %state, align 8
  br label %loop
mix:
  %s3 = call i64 @__service_account_handle_mix(i64 %s, i64 %caller, ptr %hargs)
  store i64 %s3, ptr %state, align 8
  br label %loop
}

; Account.add(pid, n): a cast is a send of [tag][0][args]
define void @__service_account_cast_add(i64 %pid, i64 %n) {
entry:
  %msg = call ptr @snow_gc_alloc_actor(i64 24, i64 8)
  store i64 1, ptr %msg, align 8
  %callerp = getelementptr i8, ptr %msg, i64 8
  store i64 0, ptr %callerp, align 8
  %argp = getelementptr i8, ptr %msg, i64 16
  store i64 %n, ptr %argp, align 8
  call void @snow_actor_send(i64 %pid, ptr %msg, i64 24)
  ret void
}

define i64 @__service_account_call_total(i64 %pid) {
entry:
  %payload = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %r = call ptr @snow_service_call(i64 %pid, i64 2, ptr %payload, i64 0)
  %vp = getelementptr i8, ptr %r, i64 16
  %v = load i64, ptr %vp, align 8
  ret i64 %v
}

; Account.mix(pid, a, b) :: (Int, Int)
define { i64, i64 } @__service_account_call_mix(i64 %pid, i64 %a, i64 %b) {
entry:
  %payload = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  store i64 %a, ptr %payload, align 8
  %bp = getelementptr i8, ptr %payload, i64 8
  store i64 %b, ptr %bp, align 8
  %r = call ptr @snow_service_call(i64 %pid, i64 3, ptr %payload, i64 16)
  %v0p = getelementptr i8, ptr %r, i64 16
  %v0 = load i64, ptr %v0p, align 8
  %v1p = getelementptr i8, ptr %r, i64 24
  %v1 = load i64, ptr %v1p, align 8
  %t0 = insertvalue { i64, i64 } undef, i64 %v0, 0
  %t1 = insertvalue { i64, i64 } %t0, i64 %v1, 1
  ret { i64, i64 } %t1
}

; service Proxy (state: account pid)
;   call doubled_total() :: Int  tag 1: replies 2 * Account.total(account)
define void @__service_proxy_loop(ptr %args) {
entry:
  %account = load i64, ptr %args, align 8
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %data = getelementptr i8, ptr %m, i64 16
  %tag = load i64, ptr %data, align 8
  %callerp = getelementptr i8, ptr %data, i64 8
  %caller = load i64, ptr %callerp, align 8
  %is_doubled = icmp eq i64 %tag, 1
  br i1 %is_doubled, label %doubled, label %loop
doubled:
  %t = call i64 @__service_account_call_total(i64 %account)
  %d = mul i64 %t, 2
  %reply = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %d, ptr %reply, align 8
  call void @snow_service_reply(i64 %caller, ptr %reply, i64 8)
  br label %loop
}

define void @snow_main() {
entry:
  %i = alloca i64, align 8
  %acc = call i64 @snow_actor_spawn(ptr @__service_account_loop, ptr null, i64 0, i8 1)
  call void @__service_account_cast_add(i64 %acc, i64 5)
  call void @__service_account_cast_add(i64 %acc, i64 7)
  %t1 = call i64 @__service_account_call_total(i64 %acc)
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_casts, i64 %t1)
  call void @snow_reduction_check()

  store i64 0, ptr %i, align 8
  br label %casts
casts:
  %k = load i64, ptr %i, align 8
  call void @__service_account_cast_add(i64 %acc, i64 1)
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp ult i64 %k1, 100
  br i1 %more, label %casts, label %cast_done
cast_done:
  %t2 = call i64 @__service_account_call_total(i64 %acc)
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_more, i64 %t2)

  %mix = call { i64, i64 } @__service_account_call_mix(i64 %acc, i64 10, i64 20)
  %m0 = extractvalue { i64, i64 } %mix, 0
  %m1 = extractvalue { i64, i64 } %mix, 1
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_two, i64 %m0, i64 %m1)
  call void @snow_reduction_check()

  %pargs = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %acc, ptr %pargs, align 8
  %proxy = call i64 @snow_actor_spawn(ptr @__service_proxy_loop, ptr %pargs, i64 8, i8 1)
  %payload = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %r = call ptr @snow_service_call(i64 %proxy, i64 1, ptr %payload, i64 0)
  %vp = getelementptr i8, ptr %r, i64 16
  %v = load i64, ptr %vp, align 8
  %p4 = call i32 (ptr, ...) @printf(ptr @.fmt_nested, i64 %v)
  %pe = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_acc, i64 23, ptr @__service_account_loop)
  call void @snow_register_function(ptr @.name_proxy, i64 21, ptr @__service_proxy_loop)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
