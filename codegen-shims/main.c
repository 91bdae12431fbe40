/*
 * main.c: the `main` of a program produced by a Snow-style code generator
 * (static library libsnowrt_main.a, CMake target snowrt_main).
 *
 * The generated program defines `void snow_main(void)` and, optionally,
 * `void snow_register_all(void)` (where it calls snow_register_function()
 * for the functions other nodes may spawn by name). This main then does, in
 * order (ABI.md section 8):
 *
 *   1. snow_rt_init()
 *   2. snow_rt_init_actor(0)      -- schedulers: SNOW_SCHEDULERS or one per CPU;
 *                                    the main thread becomes the main process
 *   3. snow_register_all()        -- only if the program defines it
 *   4. snow_main()                -- runs as the main process
 *   5. return snow_rt_run_scheduler()
 *
 * so the exit status is the one snow_rt_run_scheduler() returns: 0 normally,
 * the status given to snow_rt_halt(), 130/143 after SIGINT/SIGTERM. If the
 * runtime cannot start, it prints why on stderr and returns 70 (EX_SOFTWARE)
 * without calling the program.
 *
 * Link order: the program's objects, then libsnowrt_main.a, then libsnowrt
 * (shared or static), e.g.
 *   cc prog.o -lsnowrt_main -lsnowrt
 */
#include <snowrt.h>

#include <stdio.h>

/* Weak: resolves to NULL when the program does not define it. */
extern void snow_register_all(void) __attribute__((weak));
extern void snow_main(void);

int main(void) {
  snow_rt_init();
  int32_t rc = snow_rt_init_actor(0);
  if (rc < 0) {
    fprintf(stderr, "snowrt: cannot start the runtime: %s (%d)\n", snow_strerror(rc), (int)rc);
    return 70;
  }
  if (snow_register_all) snow_register_all();
  snow_main();
  return snow_rt_run_scheduler();
}
