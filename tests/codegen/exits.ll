; exits.ll: exits are enforced in generated code.
;   1. A process spinning in a loop whose only runtime call is the
;      snow_reduction_check() at its back-edge is killed by
;      snow_actor_exit(pid, 2): DOWN with reason killed (2).
;   2. A trapping process linked to a spinner gets EXIT [from][shutdown] when
;      the spinner is told to exit with shutdown (4).
;   3. snow_panic (noreturn) ends only the caller: DOWN reason error (1).
;   4. snow_actor_exit_self (noreturn) with a custom reason (5, "bye").
; Exit status 0 on success, else the number of the failed check.

@.panic_msg = private unnamed_addr constant [5 x i8] c"boom!"
@.panic_file = private unnamed_addr constant [8 x i8] c"exits.ll"
; custom reason: [5][u64 len = 3 little-endian]["bye"]
@.bye = private unnamed_addr constant [12 x i8] c"\05\03\00\00\00\00\00\00\00bye"

define void @spinner(i8* %args) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %next, %loop ]
  %next = add i64 %i, 1
  call void @snow_reduction_check()
  br label %loop
}

define void @panicker(i8* %args) {
entry:
  %msg = getelementptr inbounds [5 x i8], [5 x i8]* @.panic_msg, i64 0, i64 0
  %file = getelementptr inbounds [8 x i8], [8 x i8]* @.panic_file, i64 0, i64 0
  call void @snow_panic(i8* %msg, i64 5, i8* %file, i64 8, i32 42)
  unreachable
}

define void @quitter(i8* %args) {
entry:
  %r = getelementptr inbounds [12 x i8], [12 x i8]* @.bye, i64 0, i64 0
  call void @snow_actor_exit_self(i8* %r, i64 12)
  unreachable
}

; Spawns fn monitored (atomically); returns the pid, writes the ref.
define i64 @spawn_monitored(i8* %fn, i64* %ref_out, i32 %code) {
entry:
  %opts = alloca %snow_spawn_opts, align 8
  %op = bitcast %snow_spawn_opts* %opts to i8*
  call void @llvm.memset.p0i8.i64(i8* align 8 %op, i8 0, i64 64, i1 false)
  %monp = getelementptr %snow_spawn_opts, %snow_spawn_opts* %opts, i32 0, i32 1
  store i8 1, i8* %monp, align 1
  %pid = call i64 @snow_actor_spawn_opts(i8* %fn, i8* null, i64 0, i8* %op)
  %ok = icmp ne i64 %pid, 0
  call void @check(i1 %ok, i32 %code)
  %refp = getelementptr %snow_spawn_opts, %snow_spawn_opts* %opts, i32 0, i32 4
  %ref = load i64, i64* %refp, align 8
  store i64 %ref, i64* %ref_out, align 8
  ret i64 %pid
}

; Receives the DOWN for (ref, pid) and returns its reason's data pointer.
define i8* @expect_down(i64 %ref, i64 %pid, i32 %base) {
entry:
  %m = call i8* @receive_or_fail(i64 5000, i32 %base)
  %kind = call i32 @snow_msg_kind(i8* %m)
  %is_down = icmp eq i32 %kind, 2
  %c1 = add i32 %base, 1
  call void @check(i1 %is_down, i32 %c1)
  %data = call i8* @msg_data(i8* %m)
  %r = call i64 @load_u64(i8* %data, i64 0)
  %r_ok = icmp eq i64 %r, %ref
  %c2 = add i32 %base, 2
  call void @check(i1 %r_ok, i32 %c2)
  %p = call i64 @load_u64(i8* %data, i64 8)
  %p_ok = icmp eq i64 %p, %pid
  %c3 = add i32 %base, 3
  call void @check(i1 %p_ok, i32 %c3)
  %reason = getelementptr i8, i8* %data, i64 16
  ret i8* %reason
}

define void @snow_main() {
entry:
  %ref = alloca i64, align 8

  ; 1. kill a spinner
  %sp = call i64 @spawn_monitored(i8* bitcast (void (i8*)* @spinner to i8*), i64* %ref, i32 1)
  %ref1 = load i64, i64* %ref, align 8
  call void @snow_timer_sleep(i64 20)
  %k = call i32 @snow_actor_exit(i64 %sp, i8 zeroext 2)
  %k_ok = icmp eq i32 %k, 0
  call void @check(i1 %k_ok, i32 2)
  %why1p = call i8* @expect_down(i64 %ref1, i64 %sp, i32 10)
  %why1 = load i8, i8* %why1p, align 1
  %killed = icmp eq i8 %why1, 2
  call void @check(i1 %killed, i32 14)

  ; 2. trap exits, link to a spinner, exit it with shutdown
  %prev = call zeroext i1 @snow_actor_set_trap_exit(i1 zeroext true)
  %was_off = icmp eq i1 %prev, false
  call void @check(i1 %was_off, i32 20)
  %opts = alloca %snow_spawn_opts, align 8
  %op = bitcast %snow_spawn_opts* %opts to i8*
  call void @llvm.memset.p0i8.i64(i8* align 8 %op, i8 0, i64 64, i1 false)
  %linkp = getelementptr %snow_spawn_opts, %snow_spawn_opts* %opts, i32 0, i32 0
  store i8 1, i8* %linkp, align 1
  %sp2 = call i64 @snow_actor_spawn_opts(i8* bitcast (void (i8*)* @spinner to i8*), i8* null, i64 0, i8* %op)
  %sp2_ok = icmp ne i64 %sp2, 0
  call void @check(i1 %sp2_ok, i32 21)
  %e = call i32 @snow_actor_exit(i64 %sp2, i8 zeroext 4)
  %m = call i8* @receive_or_fail(i64 5000, i32 22)
  %kind = call i32 @snow_msg_kind(i8* %m)
  %is_exit = icmp eq i32 %kind, 1
  call void @check(i1 %is_exit, i32 23)
  %tag = call i64 @msg_tag(i8* %m)
  %tag_ok = icmp eq i64 %tag, -1
  call void @check(i1 %tag_ok, i32 24)
  %data = call i8* @msg_data(i8* %m)
  %from = call i64 @load_u64(i8* %data, i64 0)
  %from_ok = icmp eq i64 %from, %sp2
  call void @check(i1 %from_ok, i32 25)
  %why2 = call i8 @load_u8(i8* %data, i64 8)
  %shutdown = icmp eq i8 %why2, 4
  call void @check(i1 %shutdown, i32 26)
  %prev2 = call zeroext i1 @snow_actor_set_trap_exit(i1 zeroext false)
  call void @check(i1 %prev2, i32 27)

  ; 3. panic: reason error (1) with [u64 len][message containing the file]
  %pp = call i64 @spawn_monitored(i8* bitcast (void (i8*)* @panicker to i8*), i64* %ref, i32 30)
  %ref3 = load i64, i64* %ref, align 8
  %why3p = call i8* @expect_down(i64 %ref3, i64 %pp, i32 31)
  %why3 = load i8, i8* %why3p, align 1
  %is_error = icmp eq i8 %why3, 1
  call void @check(i1 %is_error, i32 35)
  %elen = call i64 @load_u64(i8* %why3p, i64 1)
  %elen_ok = icmp eq i64 %elen, 18 ; "exits.ll:42: boom!" (header: "file:line: msg")
  call void @check(i1 %elen_ok, i32 36)
  %last = call i8 @load_u8(i8* %why3p, i64 26) ; 1 + 8 + 17
  %last_ok = icmp eq i8 %last, 33 ; '!'
  call void @check(i1 %last_ok, i32 37)

  ; 4. exit_self with custom "bye"
  %qp = call i64 @spawn_monitored(i8* bitcast (void (i8*)* @quitter to i8*), i64* %ref, i32 40)
  %ref4 = load i64, i64* %ref, align 8
  %why4p = call i8* @expect_down(i64 %ref4, i64 %qp, i32 41)
  %why4 = load i8, i8* %why4p, align 1
  %is_custom = icmp eq i8 %why4, 5
  call void @check(i1 %is_custom, i32 45)
  %clen = call i64 @load_u64(i8* %why4p, i64 1)
  %clen_ok = icmp eq i64 %clen, 3
  call void @check(i1 %clen_ok, i32 46)
  %c0 = call i8 @load_u8(i8* %why4p, i64 9)
  %c0_ok = icmp eq i8 %c0, 98 ; 'b'
  call void @check(i1 %c0_ok, i32 47)
  ret void
}

declare void @llvm.memset.p0i8.i64(i8*, i8, i64, i1)
