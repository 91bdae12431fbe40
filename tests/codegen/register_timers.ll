; register_timers.ll: the program defines snow_register_all, which
; libsnowrt_main must call before snow_main; plus timers, receive timeouts,
; names and the per-process heap, as generated code uses them.
; Exit status 0 on success, else the number of the failed check.

@registered = global i32 0
@.fname = private unnamed_addr constant [6 x i8] c"worker"
@.pname = private unnamed_addr constant [9 x i8] c"cg_tester"

define void @worker(i8* %args) {
entry:
  ret void
}

define void @snow_register_all() {
entry:
  %old = load i32, i32* @registered
  %new = add i32 %old, 1
  store i32 %new, i32* @registered
  %n = getelementptr inbounds [6 x i8], [6 x i8]* @.fname, i64 0, i64 0
  call void @snow_register_function(i8* %n, i64 6, i8* bitcast (void (i8*)* @worker to i8*))
  ret void
}

define void @snow_main() {
entry:
  ; snow_register_all ran exactly once, before snow_main
  %reg = load i32, i32* @registered
  %reg_ok = icmp eq i32 %reg, 1
  call void @check(i1 %reg_ok, i32 1)
  %ver = call i32 @snow_rt_abi_version()
  %ver_ok = icmp eq i32 %ver, 2
  call void @check(i1 %ver_ok, i32 2)
  %self = call i64 @snow_actor_self()
  %self_ok = icmp ne i64 %self, 0
  call void @check(i1 %self_ok, i32 3)

  ; a receive timeout fires by itself
  %none = call i8* @snow_actor_receive(i64 30)
  %none_ok = icmp eq i8* %none, null
  call void @check(i1 %none_ok, i32 4)

  ; send_after delivers to self
  %buf = alloca i64, align 8
  %b = bitcast i64* %buf to i8*
  store i64 77, i64* %buf, align 8
  %t = call i64 @snow_timer_send_after(i64 %self, i64 20, i8* %b, i64 8)
  %t_ok = icmp ne i64 %t, 0
  call void @check(i1 %t_ok, i32 5)
  store i64 0, i64* %buf, align 8 ; the bytes were copied at the call
  %m = call i8* @receive_or_fail(i64 5000, i32 6)
  %tag = call i64 @msg_tag(i8* %m)
  %tag_ok = icmp eq i64 %tag, 77
  call void @check(i1 %tag_ok, i32 7)
  %fired = call i64 @snow_timer_cancel(i64 %t)
  %fired_ok = icmp eq i64 %fired, 1
  call void @check(i1 %fired_ok, i32 8)

  ; a cancelled timer never fires
  store i64 78, i64* %buf, align 8
  %t2 = call i64 @snow_timer_send_after(i64 %self, i64 50, i8* %b, i64 8)
  %c2 = call i64 @snow_timer_cancel(i64 %t2)
  %c2_ok = icmp eq i64 %c2, 0
  call void @check(i1 %c2_ok, i32 9)
  %none2 = call i8* @snow_actor_receive(i64 150)
  %none2_ok = icmp eq i8* %none2, null
  call void @check(i1 %none2_ok, i32 10)

  ; sleep returns
  call void @snow_timer_sleep(i64 5)

  ; names
  %pn = getelementptr inbounds [9 x i8], [9 x i8]* @.pname, i64 0, i64 0
  %r = call i32 @snow_actor_register(i8* %pn, i64 9)
  %r_ok = icmp eq i32 %r, 0
  call void @check(i1 %r_ok, i32 11)
  %w = call i64 @snow_actor_whereis(i8* %pn, i64 9)
  %w_ok = icmp eq i64 %w, %self
  call void @check(i1 %w_ok, i32 12)
  store i64 79, i64* %buf, align 8
  %sn = call i32 @snow_actor_send_named(i8* %pn, i64 9, i8* null, i64 0, i8* %b, i64 8)
  %sn_ok = icmp eq i32 %sn, 0
  call void @check(i1 %sn_ok, i32 13)
  %m3 = call i8* @receive_or_fail(i64 5000, i32 14)
  %tag3 = call i64 @msg_tag(i8* %m3)
  %tag3_ok = icmp eq i64 %tag3, 79
  call void @check(i1 %tag3_ok, i32 15)
  %u = call i32 @snow_actor_unregister(i8* %pn, i64 9)
  %u_ok = icmp eq i32 %u, 0
  call void @check(i1 %u_ok, i32 16)
  %w2 = call i64 @snow_actor_whereis(i8* %pn, i64 9)
  %w2_ok = icmp eq i64 %w2, 0
  call void @check(i1 %w2_ok, i32 17)

  ; the process heap: zeroed, aligned
  %mem = call i8* @snow_gc_alloc_actor(i64 64, i64 16)
  %mem_ok = icmp ne i8* %mem, null
  call void @check(i1 %mem_ok, i32 18)
  %z = call i64 @load_u64(i8* %mem, i64 56)
  %z_ok = icmp eq i64 %z, 0
  call void @check(i1 %z_ok, i32 19)
  %addr = ptrtoint i8* %mem to i64
  %mis = and i64 %addr, 15
  %al_ok = icmp eq i64 %mis, 0
  call void @check(i1 %al_ok, i32 20)

  ; snow_node_self: an empty Snow string when distribution is not started
  %ns = call i8* @snow_node_self()
  %ns_ok = icmp ne i8* %ns, null
  call void @check(i1 %ns_ok, i32 21)
  %nslen = call i64 @load_u64(i8* %ns, i64 0)
  %nslen_ok = icmp eq i64 %nslen, 0
  call void @check(i1 %nslen_ok, i32 22)

  ; errors are named
  %es = call i8* @snow_strerror(i64 -1)
  %es_ok = icmp ne i8* %es, null
  call void @check(i1 %es_ok, i32 23)

  ; stats count this process
  %st = alloca %snow_stats, align 8
  %stp = bitcast %snow_stats* %st to i8*
  %sr = call i32 @snow_rt_stats(i8* %stp)
  %sr_ok = icmp eq i32 %sr, 0
  call void @check(i1 %sr_ok, i32 24)
  %alivep = getelementptr %snow_stats, %snow_stats* %st, i32 0, i32 0
  %alive = load i64, i64* %alivep, align 8
  %alive_ok = icmp uge i64 %alive, 1
  call void @check(i1 %alive_ok, i32 25)
  ret void
}
