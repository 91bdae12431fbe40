; monitor_down.ll: monitor a process that exits and check the DOWN message;
; monitor it again once dead and check the immediate DOWN noproc; check a
; monitor taken atomically with the spawn (snow_spawn_opts) too.
;
; DOWN messages: kind 2, tag UINT64_MAX - 1 (-2), data [u64 ref][u64 pid][reason],
; reason tag 0 = normal, 7 = noproc.
; Exit status 0 on success, else the number of the failed check.

; waiter: receives one message, then returns (exits with reason normal).
define void @waiter(i8* %args) {
entry:
  %m = call i8* @snow_actor_receive(i64 -1)
  call void @snow_reduction_check()
  ret void
}

; Checks that %m is DOWN(ref, pid, reason); codes base+0 .. base+5.
define void @check_down(i8* %m, i64 %ref, i64 %pid, i8 %reason, i32 %base) {
entry:
  %kind = call i32 @snow_msg_kind(i8* %m)
  %is_down = icmp eq i32 %kind, 2
  call void @check(i1 %is_down, i32 %base)
  %tag = call i64 @msg_tag(i8* %m)
  %tag_ok = icmp eq i64 %tag, -2
  %c1 = add i32 %base, 1
  call void @check(i1 %tag_ok, i32 %c1)
  %len = call i64 @msg_len(i8* %m)
  %len_ok = icmp uge i64 %len, 17
  %c2 = add i32 %base, 2
  call void @check(i1 %len_ok, i32 %c2)
  %data = call i8* @msg_data(i8* %m)
  %r = call i64 @load_u64(i8* %data, i64 0)
  %r_ok = icmp eq i64 %r, %ref
  %c3 = add i32 %base, 3
  call void @check(i1 %r_ok, i32 %c3)
  %p = call i64 @load_u64(i8* %data, i64 8)
  %p_ok = icmp eq i64 %p, %pid
  %c4 = add i32 %base, 4
  call void @check(i1 %p_ok, i32 %c4)
  %why = call i8 @load_u8(i8* %data, i64 16)
  %why_ok = icmp eq i8 %why, %reason
  %c5 = add i32 %base, 5
  call void @check(i1 %why_ok, i32 %c5)
  ret void
}

define void @snow_main() {
entry:
  %go = alloca i64, align 8
  store i64 7, i64* %go, align 8
  %gop = bitcast i64* %go to i8*

  ; 1. plain monitor of a live process that then exits normally
  %w = call i64 @snow_actor_spawn(i8* bitcast (void (i8*)* @waiter to i8*), i8* null, i64 0, i8 zeroext 1)
  %w_ok = icmp ne i64 %w, 0
  call void @check(i1 %w_ok, i32 1)
  %ref = call i64 @snow_process_monitor(i64 %w)
  %ref_ok = icmp ne i64 %ref, 0
  call void @check(i1 %ref_ok, i32 2)
  %s = call i32 @snow_actor_send(i64 %w, i8* %gop, i64 8)
  %m = call i8* @receive_or_fail(i64 5000, i32 3)
  call void @check_down(i8* %m, i64 %ref, i64 %w, i8 0, i32 10)

  ; 2. monitoring the dead process gives DOWN noproc at once, with a new ref
  %ref2 = call i64 @snow_process_monitor(i64 %w)
  %ref2_ok = icmp ne i64 %ref2, 0
  call void @check(i1 %ref2_ok, i32 4)
  %ref2_new = icmp ne i64 %ref2, %ref
  call void @check(i1 %ref2_new, i32 5)
  %m2 = call i8* @receive_or_fail(i64 5000, i32 6)
  call void @check_down(i8* %m2, i64 %ref2, i64 %w, i8 7, i32 20)

  ; a fired monitor is no longer active: demonitor returns 1
  %dm = call i64 @snow_process_demonitor(i64 %ref)
  %dm_ok = icmp eq i64 %dm, 1
  call void @check(i1 %dm_ok, i32 7)

  ; 3. monitor set up atomically with the spawn
  %opts = alloca %snow_spawn_opts, align 8
  %op = bitcast %snow_spawn_opts* %opts to i8*
  %size = ptrtoint %snow_spawn_opts* getelementptr (%snow_spawn_opts, %snow_spawn_opts* null, i32 1) to i64
  %size_ok = icmp eq i64 %size, 64
  call void @check(i1 %size_ok, i32 8)
  call void @llvm.memset.p0i8.i64(i8* align 8 %op, i8 0, i64 64, i1 false)
  %monp = getelementptr %snow_spawn_opts, %snow_spawn_opts* %opts, i32 0, i32 1
  store i8 1, i8* %monp, align 1
  %w3 = call i64 @snow_actor_spawn_opts(i8* bitcast (void (i8*)* @waiter to i8*), i8* null, i64 0, i8* %op)
  %w3_ok = icmp ne i64 %w3, 0
  call void @check(i1 %w3_ok, i32 9)
  %refp = getelementptr %snow_spawn_opts, %snow_spawn_opts* %opts, i32 0, i32 4
  %ref3 = load i64, i64* %refp, align 8
  %ref3_ok = icmp ne i64 %ref3, 0
  call void @check(i1 %ref3_ok, i32 30)
  %s3 = call i32 @snow_actor_send(i64 %w3, i8* %gop, i64 8)
  %m3 = call i8* @receive_or_fail(i64 5000, i32 31)
  call void @check_down(i8* %m3, i64 %ref3, i64 %w3, i8 0, i32 40)

  ; 4. demonitor before the exit: no DOWN arrives
  %w4 = call i64 @snow_actor_spawn(i8* bitcast (void (i8*)* @waiter to i8*), i8* null, i64 0, i8 zeroext 1)
  %ref4 = call i64 @snow_process_monitor(i64 %w4)
  %dm4 = call i64 @snow_process_demonitor(i64 %ref4)
  %dm4_ok = icmp eq i64 %dm4, 0
  call void @check(i1 %dm4_ok, i32 50)
  %s4 = call i32 @snow_actor_send(i64 %w4, i8* %gop, i64 8)
  %none = call i8* @snow_actor_receive(i64 200)
  %none_ok = icmp eq i8* %none, null
  call void @check(i1 %none_ok, i32 51)
  ret void
}

declare void @llvm.memset.p0i8.i64(i8*, i8, i64, i1)
