; service_state.ll: Snow's e2e "service state": a handler takes the state
; and returns the new one, which the service loop keeps for the next
; message. A Stack service keeps its state in its heap (a struct pointer
; whose buffer grows by reallocation) and two instances keep their own; a
; Stats service keeps a struct by value. State survives 1000 casts, and a
; call sees every earlier cast of the same client.
; Expected output: service_state.expected.

; ---- declarations as the Snow compiler emits them (its own types) ----
declare void @snow_rt_init()
declare void @snow_rt_init_actor(i32)
declare void @snow_rt_run_scheduler()
declare void @snow_register_function(ptr, i64, ptr)
declare i64 @snow_actor_spawn(ptr, ptr, i64, i8)
declare void @snow_actor_send(i64, ptr, i64)
declare ptr @snow_actor_receive(i64)
declare void @snow_reduction_check()
declare ptr @snow_gc_alloc_actor(i64, i64)
declare ptr @snow_service_call(i64, i64, ptr, i64)
declare void @snow_service_reply(i64, ptr, i64)
declare i32 @printf(ptr, ...)
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)

; struct StackState { len :: Int, cap :: Int, items :: ptr }
%StackState = type { i64, i64, ptr }
; struct Stats { count :: Int, sum :: Int, max :: Int }
%Stats = type { i64, i64, i64 }

@.name_stack = private unnamed_addr constant [20 x i8] c"__service_stack_loop"
@.name_stats = private unnamed_addr constant [20 x i8] c"__service_stats_loop"
@.fmt_two = private unnamed_addr constant [56 x i8] c"state: two stacks keep their own: pop a %ld, pop b %ld\0A\00"
@.fmt_sizes = private unnamed_addr constant [34 x i8] c"state: sizes after: a %ld, b %ld\0A\00"
@.fmt_many = private unnamed_addr constant [56 x i8] c"state: 1000 pushes, then pops: sum %ld, size after %ld\0A\00"
@.fmt_stats = private unnamed_addr constant [53 x i8] c"state: stats by value {count %ld, sum %ld, max %ld}\0A\00"
@.fmt_end = private unnamed_addr constant [12 x i8] c"main: done\0A\00"

; ---- service Stack: cast push(x) tag 1; call pop() tag 2; call size() tag 3

define ptr @__service_stack_handle_push(ptr %state, ptr %args) {
entry:
  %x = load i64, ptr %args, align 8
  %st = load %StackState, ptr %state, align 8
  %len = extractvalue %StackState %st, 0
  %cap = extractvalue %StackState %st, 1
  %items = extractvalue %StackState %st, 2
  %full = icmp eq i64 %len, %cap
  br i1 %full, label %grow, label %store
grow:
  %cap2 = mul i64 %cap, 2
  %bytes = mul i64 %cap2, 8
  %bigger = call ptr @snow_gc_alloc_actor(i64 %bytes, i64 8)
  %old = mul i64 %len, 8
  call void @llvm.memcpy.p0.p0.i64(ptr %bigger, ptr %items, i64 %old, i1 false)
  br label %store
store:
  %cap_now = phi i64 [ %cap, %entry ], [ %cap2, %grow ]
  %items_now = phi ptr [ %items, %entry ], [ %bigger, %grow ]
  %slot = getelementptr i64, ptr %items_now, i64 %len
  store i64 %x, ptr %slot, align 8
  %len1 = add i64 %len, 1
  %next = call ptr @snow_gc_alloc_actor(i64 24, i64 8)
  %n0 = insertvalue %StackState undef, i64 %len1, 0
  %n1 = insertvalue %StackState %n0, i64 %cap_now, 1
  %n2 = insertvalue %StackState %n1, ptr %items_now, 2
  store %StackState %n2, ptr %next, align 8
  ret ptr %next
}

define ptr @__service_stack_handle_pop(ptr %state, i64 %caller) {
entry:
  %st = load %StackState, ptr %state, align 8
  %len = extractvalue %StackState %st, 0
  %items = extractvalue %StackState %st, 2
  %reply = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %empty = icmp eq i64 %len, 0
  br i1 %empty, label %none, label %some
none:
  store i64 -1, ptr %reply, align 8
  call void @snow_service_reply(i64 %caller, ptr %reply, i64 8)
  ret ptr %state
some:
  %len1 = sub i64 %len, 1
  %slot = getelementptr i64, ptr %items, i64 %len1
  %x = load i64, ptr %slot, align 8
  store i64 %x, ptr %reply, align 8
  call void @snow_service_reply(i64 %caller, ptr %reply, i64 8)
  %next = call ptr @snow_gc_alloc_actor(i64 24, i64 8)
  %n = insertvalue %StackState %st, i64 %len1, 0
  store %StackState %n, ptr %next, align 8
  ret ptr %next
}

define ptr @__service_stack_handle_size(ptr %state, i64 %caller) {
entry:
  %st = load %StackState, ptr %state, align 8
  %len = extractvalue %StackState %st, 0
  %reply = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  store i64 %len, ptr %reply, align 8
  call void @snow_service_reply(i64 %caller, ptr %reply, i64 8)
  ret ptr %state
}

define void @__service_stack_loop(ptr %args) {
entry:
  %state = alloca ptr, align 8
  %items = call ptr @snow_gc_alloc_actor(i64 16, i64 8)
  %init = call ptr @snow_gc_alloc_actor(i64 24, i64 8)
  %s0 = insertvalue %StackState { i64 0, i64 2, ptr undef }, ptr %items, 2
  store %StackState %s0, ptr %init, align 8
  store ptr %init, ptr %state, align 8
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %data = getelementptr i8, ptr %m, i64 16
  %tag = load i64, ptr %data, align 8
  %callerp = getelementptr i8, ptr %data, i64 8
  %caller = load i64, ptr %callerp, align 8
  %hargs = getelementptr i8, ptr %data, i64 16
  %s = load ptr, ptr %state, align 8
  switch i64 %tag, label %loop [ i64 1, label %push
                                 i64 2, label %pop
                                 i64 3, label %size ]
push:
  %s1 = call ptr @__service_stack_handle_push(ptr %s, ptr %hargs)
  store ptr %s1, ptr %state, align 8
  br label %loop
pop:
  %s2 = call ptr @__service_stack_handle_pop(ptr %s, i64 %caller)
  store ptr %s2, ptr %state, align 8
  br label %loop
size:
  %s3 = call ptr @__service_stack_handle_size(ptr %s, i64 %caller)
  store ptr %s3, ptr %state, align 8
  br label %loop
}

define void @__service_stack_cast_push(i64 %pid, i64 %x) {
entry:
  %msg = call ptr @snow_gc_alloc_actor(i64 24, i64 8)
  store i64 1, ptr %msg, align 8
  %callerp = getelementptr i8, ptr %msg, i64 8
  store i64 0, ptr %callerp, align 8
  %argp = getelementptr i8, ptr %msg, i64 16
  store i64 %x, ptr %argp, align 8
  call void @snow_actor_send(i64 %pid, ptr %msg, i64 24)
  ret void
}

define i64 @__service_stack_call(i64 %pid, i64 %tag) {
entry:
  %payload = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %r = call ptr @snow_service_call(i64 %pid, i64 %tag, ptr %payload, i64 0)
  %vp = getelementptr i8, ptr %r, i64 16
  %v = load i64, ptr %vp, align 8
  ret i64 %v
}

; ---- service Stats: cast record(x) tag 1; call summary() tag 2

define %Stats @__service_stats_handle_record(%Stats %state, ptr %args) {
entry:
  %x = load i64, ptr %args, align 8
  %count = extractvalue %Stats %state, 0
  %sum = extractvalue %Stats %state, 1
  %max = extractvalue %Stats %state, 2
  %count1 = add i64 %count, 1
  %sum1 = add i64 %sum, %x
  %bigger = icmp sgt i64 %x, %max
  %max1 = select i1 %bigger, i64 %x, i64 %max
  %s0 = insertvalue %Stats undef, i64 %count1, 0
  %s1 = insertvalue %Stats %s0, i64 %sum1, 1
  %s2 = insertvalue %Stats %s1, i64 %max1, 2
  ret %Stats %s2
}

define %Stats @__service_stats_handle_summary(%Stats %state, i64 %caller) {
entry:
  %reply = call ptr @snow_gc_alloc_actor(i64 24, i64 8)
  store %Stats %state, ptr %reply, align 8
  call void @snow_service_reply(i64 %caller, ptr %reply, i64 24)
  ret %Stats %state
}

define void @__service_stats_loop(ptr %args) {
entry:
  %state = alloca %Stats, align 8
  store %Stats zeroinitializer, ptr %state, align 8
  br label %loop
loop:
  call void @snow_reduction_check()
  %m = call ptr @snow_actor_receive(i64 -1)
  %data = getelementptr i8, ptr %m, i64 16
  %tag = load i64, ptr %data, align 8
  %callerp = getelementptr i8, ptr %data, i64 8
  %caller = load i64, ptr %callerp, align 8
  %hargs = getelementptr i8, ptr %data, i64 16
  %s = load %Stats, ptr %state, align 8
  switch i64 %tag, label %loop [ i64 1, label %record
                                 i64 2, label %summary ]
record:
  %s1 = call %Stats @__service_stats_handle_record(%Stats %s, ptr %hargs)
  store %Stats %s1, ptr %state, align 8
  br label %loop
summary:
  %s2 = call %Stats @__service_stats_handle_summary(%Stats %s, i64 %caller)
  store %Stats %s2, ptr %state, align 8
  br label %loop
}

define void @__service_stats_cast_record(i64 %pid, i64 %x) {
entry:
  %msg = call ptr @snow_gc_alloc_actor(i64 24, i64 8)
  store i64 1, ptr %msg, align 8
  %callerp = getelementptr i8, ptr %msg, i64 8
  store i64 0, ptr %callerp, align 8
  %argp = getelementptr i8, ptr %msg, i64 16
  store i64 %x, ptr %argp, align 8
  call void @snow_actor_send(i64 %pid, ptr %msg, i64 24)
  ret void
}

define %Stats @__service_stats_call_summary(i64 %pid) {
entry:
  %payload = call ptr @snow_gc_alloc_actor(i64 8, i64 8)
  %r = call ptr @snow_service_call(i64 %pid, i64 2, ptr %payload, i64 0)
  %vp = getelementptr i8, ptr %r, i64 16
  %v = load %Stats, ptr %vp, align 8
  ret %Stats %v
}

define void @snow_main() {
entry:
  %i = alloca i64, align 8
  %sum = alloca i64, align 8
  %a = call i64 @snow_actor_spawn(ptr @__service_stack_loop, ptr null, i64 0, i8 1)
  %b = call i64 @snow_actor_spawn(ptr @__service_stack_loop, ptr null, i64 0, i8 1)
  call void @__service_stack_cast_push(i64 %a, i64 1)
  call void @__service_stack_cast_push(i64 %b, i64 10)
  call void @__service_stack_cast_push(i64 %a, i64 2)
  call void @__service_stack_cast_push(i64 %b, i64 20)
  call void @__service_stack_cast_push(i64 %a, i64 3)
  call void @__service_stack_cast_push(i64 %b, i64 30)
  %pa = call i64 @__service_stack_call(i64 %a, i64 2)
  %pb = call i64 @__service_stack_call(i64 %b, i64 2)
  %p1 = call i32 (ptr, ...) @printf(ptr @.fmt_two, i64 %pa, i64 %pb)
  %sa = call i64 @__service_stack_call(i64 %a, i64 3)
  %sb = call i64 @__service_stack_call(i64 %b, i64 3)
  %p2 = call i32 (ptr, ...) @printf(ptr @.fmt_sizes, i64 %sa, i64 %sb)
  call void @snow_reduction_check()

  ; 1000 more pushes on b (its buffer grows several times), then pop all
  store i64 1, ptr %i, align 8
  br label %push
push:
  %k = load i64, ptr %i, align 8
  call void @__service_stack_cast_push(i64 %b, i64 %k)
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %i, align 8
  call void @snow_reduction_check()
  %more = icmp sle i64 %k1, 1000
  br i1 %more, label %push, label %pushed
pushed:
  store i64 0, ptr %i, align 8
  store i64 0, ptr %sum, align 8
  br label %pop
pop:
  %q = load i64, ptr %i, align 8
  %v = call i64 @__service_stack_call(i64 %b, i64 2)
  %s = load i64, ptr %sum, align 8
  %s1 = add i64 %s, %v
  store i64 %s1, ptr %sum, align 8
  %q1 = add i64 %q, 1
  store i64 %q1, ptr %i, align 8
  call void @snow_reduction_check()
  %more2 = icmp ult i64 %q1, 1000
  br i1 %more2, label %pop, label %popped
popped:
  %sf = load i64, ptr %sum, align 8
  %sz = call i64 @__service_stack_call(i64 %b, i64 3)
  %p3 = call i32 (ptr, ...) @printf(ptr @.fmt_many, i64 %sf, i64 %sz)
  call void @snow_reduction_check()

  %st = call i64 @snow_actor_spawn(ptr @__service_stats_loop, ptr null, i64 0, i8 1)
  call void @__service_stats_cast_record(i64 %st, i64 4)
  call void @__service_stats_cast_record(i64 %st, i64 10)
  call void @__service_stats_cast_record(i64 %st, i64 7)
  call void @__service_stats_cast_record(i64 %st, i64 1)
  %sum_st = call %Stats @__service_stats_call_summary(i64 %st)
  %c = extractvalue %Stats %sum_st, 0
  %t = extractvalue %Stats %sum_st, 1
  %mx = extractvalue %Stats %sum_st, 2
  %p4 = call i32 (ptr, ...) @printf(ptr @.fmt_stats, i64 %c, i64 %t, i64 %mx)
  %pe = call i32 (ptr, ...) @printf(ptr @.fmt_end)
  ret void
}

define i32 @main() {
entry:
  call void @snow_rt_init()
  call void @snow_rt_init_actor(i32 0)
  call void @snow_register_function(ptr @.name_stack, i64 21, ptr @__service_stack_loop)
  call void @snow_register_function(ptr @.name_stats, i64 21, ptr @__service_stats_loop)
  call void @snow_main()
  call void @snow_rt_run_scheduler()
  ret i32 0
}
