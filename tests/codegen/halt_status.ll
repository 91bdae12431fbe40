; halt_status.ll: snow_rt_halt(3) from snow_main makes the program exit with
; status 3: libsnowrt_main returns what snow_rt_run_scheduler returns.
; A process left waiting is shut down by the halt.

define void @idle(i8* %args) {
entry:
  %m = call i8* @snow_actor_receive(i64 -1)
  ret void
}

define void @snow_main() {
entry:
  %p = call i64 @snow_actor_spawn(i8* bitcast (void (i8*)* @idle to i8*), i8* null, i64 0, i8 zeroext 2)
  %ok = icmp ne i64 %p, 0
  call void @check(i1 %ok, i32 1)
  call void @snow_rt_halt(i32 3)
  ret void
}
