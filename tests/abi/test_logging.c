/* Logging: SNOW_LOG, snow_rt_set_log_level and the log handler an
 * embedding program sets to route the runtime's lines. (The dist-side
 * lines, a refused handshake and its filtering, are in test_node_errors.c.) */
#define _GNU_SOURCE 1
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"
#include "log_capture.h"

/* ------------------------------------------------------------- the level */

TEST_CASE(level_is_info_without_snow_log) {
  unsetenv("SNOW_LOG");
  CHECK_EQ(snow_rt_log_level(), SNOW_LOG_INFO);
}

TEST_CASE(snow_log_names_the_level_in_any_case) {
  setenv("SNOW_LOG", "DeBuG", 1);
  CHECK_EQ(snow_rt_log_level(), SNOW_LOG_DEBUG);
}

TEST_CASE(snow_log_warn_is_warning) {
  setenv("SNOW_LOG", "warn", 1);
  CHECK_EQ(snow_rt_log_level(), SNOW_LOG_WARNING);
}

TEST_CASE(snow_log_error_is_error) {
  setenv("SNOW_LOG", "error", 1);
  CHECK_EQ(snow_rt_log_level(), SNOW_LOG_ERROR);
}

TEST_CASE(unknown_snow_log_value_is_info_and_says_so) {
  log_capture cap;
  log_capture_install(&cap);
  setenv("SNOW_LOG", "loud", 1);
  CHECK_EQ(snow_rt_log_level(), SNOW_LOG_INFO);
  CHECK(log_capture_find(&cap, SNOW_LOG_WARNING, "SNOW_LOG=loud"));
  log_capture_remove(&cap);
}

TEST_CASE(set_log_level_overrides_snow_log_and_returns_the_previous_level) {
  setenv("SNOW_LOG", "debug", 1);
  CHECK_EQ(snow_rt_set_log_level(SNOW_LOG_ERROR), SNOW_LOG_DEBUG);
  CHECK_EQ(snow_rt_log_level(), SNOW_LOG_ERROR);
  CHECK_EQ(snow_rt_set_log_level(SNOW_LOG_WARNING), SNOW_LOG_ERROR);
  CHECK_EQ(snow_rt_log_level(), SNOW_LOG_WARNING);
}

TEST_CASE(set_log_level_refuses_levels_outside_the_four) {
  CHECK_EQ(snow_rt_set_log_level(SNOW_LOG_INFO), SNOW_LOG_INFO);
  CHECK_EQ(snow_rt_set_log_level(4), SNOW_EINVAL);
  CHECK_EQ(snow_rt_set_log_level(-1), SNOW_EINVAL);
  CHECK_EQ(snow_rt_log_level(), SNOW_LOG_INFO);
}

/* ------------------------------------------------------------- the handler */

static void panics(const uint8_t* args) {
  (void)args;
  snow_panic("logged boom", 11, "test_logging.c", 14, 7);
}

static void panic_and_wait_down(void) {
  snow_spawn_opts o;
  memset(&o, 0, sizeof o);
  o.monitor = 1;
  snow_pid_t p = snow_actor_spawn_opts(panics, NULL, 0, &o);
  CHECK(p != 0);
  th__wait(__FILE__, __LINE__, th_m_down(o.monitor_ref), th_wait_ms());
}

TEST_CASE(handler_receives_a_crash_report_at_error_level_with_its_context) {
  log_capture cap;
  log_capture_install(&cap);
  th_start();
  panic_and_wait_down();
  CHECK(log_capture_find(&cap, SNOW_LOG_ERROR, "test_logging.c:7: logged boom"));
  CHECK(cap.wrong_ctx == 0);
  log_capture_remove(&cap);
  th_end();
}

TEST_CASE(error_lines_pass_at_the_error_level) {
  log_capture cap;
  log_capture_install(&cap);
  CHECK(snow_rt_set_log_level(SNOW_LOG_ERROR) >= 0);
  th_start();
  panic_and_wait_down();
  CHECK(log_capture_find(&cap, SNOW_LOG_ERROR, "logged boom"));
  log_capture_remove(&cap);
  th_end();
}

TEST_CASE(removed_handler_is_not_called_again) {
  log_capture cap;
  log_capture_install(&cap);
  th_start();
  log_capture_remove(&cap);
  int before = log_capture_count(&cap);
  panic_and_wait_down();
  CHECK_EQ(log_capture_count(&cap), before);
  th_end();
}
