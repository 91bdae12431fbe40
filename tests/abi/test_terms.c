/* Terms and pids (ABI.md section 5): snow_term_decode_pid reads only the pid
 * a term starts with, whatever follows it, in bounded time and memory
 * (issue 9, finding 8: {Pid, X} with X 300 deep gave 0, and a 4 MB
 * {Pid, List} cost 380 MB), and names that travel as atoms must be UTF-8.
 * No node is started: pids are nonode@nohost. */
#include "harness.h"

#include <stdlib.h>

/* The process's peak resident set in KiB (VmHWM), after resetting it to the
 * current resident set when the kernel allows (so an earlier peak cannot
 * hide a new one). */
static void reset_peak_rss(void) {
  FILE* f = fopen("/proc/self/clear_refs", "w");
  if (!f) return;
  fputs("5", f);
  fclose(f);
}

static long peak_rss_kib(void) {
  FILE* f = fopen("/proc/self/status", "r");
  CHECK(f != NULL);
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  fclose(f);
  CHECK(kib >= 0);
  return kib;
}

/* {Pid, ...} where Pid is the calling process: writes the version byte,
 * the tuple header and the pid; returns the bytes written. */
static size_t tuple_of_self(uint8_t* out, size_t cap, uint32_t arity) {
  uint8_t pid[64];
  int64_t n = snow_term_encode_pid(snow_actor_self(), pid, sizeof pid);
  CHECK(n > 1 && (size_t)n + 5 <= cap);
  size_t at = 0;
  out[at++] = 131;
  out[at++] = 105; /* LARGE_TUPLE_EXT */
  out[at++] = (uint8_t)(arity >> 24);
  out[at++] = (uint8_t)(arity >> 16);
  out[at++] = (uint8_t)(arity >> 8);
  out[at++] = (uint8_t)arity;
  memcpy(out + at, pid + 1, (size_t)n - 1); /* without its version byte */
  return at + (size_t)n - 1;
}

TEST_CASE(decode_pid_of_a_tuple_whose_second_element_nests_300_deep) {
  th_start();
  enum { DEPTH = 300 };
  static uint8_t etf[128 + 2 * DEPTH];
  size_t n = tuple_of_self(etf, sizeof etf, 2);
  for (int i = 0; i < DEPTH; i++) {
    etf[n++] = 104; /* SMALL_TUPLE_EXT, arity 1 */
    etf[n++] = 1;
  }
  etf[n++] = 106; /* NIL_EXT */
  CHECK_EQ_U(snow_term_decode_pid(etf, n), th_main);
  th_end();
}

TEST_CASE(decode_pid_of_a_4_mb_tuple_costs_no_memory_beyond_its_bytes) {
  th_start();
  /* {Pid, [0, 1, 2, ...]}: 2 million small integers. */
  enum { ELEMENTS = 2000000 };
  size_t cap = 128 + 5 + 2 * (size_t)ELEMENTS + 1;
  uint8_t* etf = malloc(cap);
  CHECK(etf != NULL);
  size_t n = tuple_of_self(etf, cap, 2);
  etf[n++] = 108; /* LIST_EXT */
  etf[n++] = (uint8_t)(ELEMENTS >> 24);
  etf[n++] = (uint8_t)(ELEMENTS >> 16);
  etf[n++] = (uint8_t)(ELEMENTS >> 8);
  etf[n++] = (uint8_t)ELEMENTS;
  for (int i = 0; i < ELEMENTS; i++) {
    etf[n++] = 97; /* SMALL_INTEGER_EXT */
    etf[n++] = (uint8_t)i;
  }
  etf[n++] = 106;
  reset_peak_rss();
  long before = peak_rss_kib();
  CHECK_EQ_U(snow_term_decode_pid(etf, n), th_main);
  long grown = peak_rss_kib() - before;
  CHECK_MSG(grown < 8 * 1024, "decoding the pid of a %zu-byte term raised the peak RSS by %ld KiB", n, grown);
  free(etf);
  th_end();
}

/* Only the leading pid is read (docs/abi.md): a remainder that is cut short
 * or malformed does not hide it; a term that does not start with a pid
 * gives 0. */
TEST_CASE(decode_pid_reads_only_the_leading_pid) {
  th_start();
  uint8_t etf[128];
  size_t n = tuple_of_self(etf, sizeof etf, 3);
  etf[n++] = 108; /* LIST_EXT claiming 4 billion elements, then nothing */
  memset(etf + n, 0xff, 4);
  n += 4;
  CHECK_EQ_U(snow_term_decode_pid(etf, n), th_main);
  /* The pid alone, with and without its version byte. */
  uint8_t pid[64];
  int64_t pn = snow_term_encode_pid(th_main, pid, sizeof pid);
  CHECK(pn > 1);
  CHECK_EQ_U(snow_term_decode_pid(pid, (uint64_t)pn), th_main);
  CHECK_EQ_U(snow_term_decode_pid(pid + 1, (uint64_t)pn - 1), th_main);
  /* Not a pid first, an empty tuple, a pid cut short. */
  static const uint8_t atom_first[] = {131, 104, 2, 119, 1, 'x', 106};
  static const uint8_t empty_tuple[] = {131, 104, 0};
  CHECK_EQ_U(snow_term_decode_pid(atom_first, sizeof atom_first), 0);
  CHECK_EQ_U(snow_term_decode_pid(empty_tuple, sizeof empty_tuple), 0);
  CHECK_EQ_U(snow_term_decode_pid(pid, (uint64_t)pn - 1), 0);
  th_end();
}

/* term_to_binary (OTP 25) writes node names as ATOM_EXT (Latin-1): the
 * same pid. */
TEST_CASE(decode_pid_reads_a_pid_whose_node_is_a_latin1_atom) {
  th_start();
  uint8_t pid[64];
  int64_t pn = snow_term_encode_pid(th_main, pid, sizeof pid);
  CHECK(pn > 4 && pid[1] == 88 && pid[2] == 119); /* NEW_PID_EXT, SMALL_ATOM_UTF8_EXT */
  uint8_t latin1[80];
  latin1[0] = 131;
  latin1[1] = 88;
  latin1[2] = 100; /* ATOM_EXT: two length bytes */
  latin1[3] = 0;
  memcpy(latin1 + 4, pid + 3, (size_t)pn - 3);
  CHECK_EQ_U(snow_term_decode_pid(latin1, (uint64_t)pn + 1), th_main);
  th_end();
}

/* Names that reach other nodes as atoms must be atoms Erlang accepts (a
 * peer drops the connection on a malformed atom): not UTF-8 is
 * SNOW_EBADNAME, before anything is sent or started. */
TEST_CASE(names_that_travel_as_atoms_must_be_utf8) {
  th_start();
  static const char bad_name[] = {'s', 'r', 'v', (char)0xff};
  static const char bad_node[] = {'a', '@', 'h', (char)0xe9};
  uint8_t msg[8] = {0};
  CHECK_EQ(snow_actor_send_named(bad_name, sizeof bad_name, "b@127.0.0.1", 11, msg, sizeof msg), SNOW_EBADNAME);
  CHECK_EQ(snow_node_start(bad_node, sizeof bad_node, "cookie", 6), SNOW_EBADNAME);
  CHECK_EQ(snow_node_connect(bad_node, sizeof bad_node), SNOW_EBADNAME);
  CHECK_EQ_U(snow_node_spawn("b@127.0.0.1", 11, bad_name, sizeof bad_name, NULL, 0, 0), 0);
  /* The same name in UTF-8 is fine (no node started: SNOW_ENONODE). */
  static const char good_name[] = {'s', 'r', 'v', (char)0xc3, (char)0xbf};
  CHECK_EQ(snow_actor_send_named(good_name, sizeof good_name, "b@127.0.0.1", 11, msg, sizeof msg), SNOW_ENONODE);
  th_end();
}
