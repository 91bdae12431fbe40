/* TLS distribution configured through snow_node_set_tls: argument checks,
 * SNOW_ETLS for settings a start cannot use, and two nodes (this process
 * and a forked child) that connect when their certificates are trusted
 * and do not when one is not. The certificates are self-signed, made per
 * case with the openssl command; each is its own CA (interop tests with erl
 * use a real CA: tests/interop/test_tls.py).
 *
 * These cases start nodes and use the port mapper: run them under
 * /tmp/snowrt-dist.lock like the other multi-node tests. */
#define _GNU_SOURCE 1
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child_node.h"
#include "harness.h"

static int64_t set_tls(const char* key, const char* value) {
  return snow_node_set_tls(key, strlen(key), value, strlen(value));
}

static int64_t start_node(const char* name) { return snow_node_start(name, strlen(name), "c", 1); }

/* A self-signed certificate for 127.0.0.1 in dir/<name>.pem, its key in
 * dir/<name>.key. */
static void make_certificate(const char* dir, const char* name) {
  char cmd[1024];
  int n =
      snprintf(cmd, sizeof cmd,
               "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 "
               "-addext subjectAltName=IP:127.0.0.1 -keyout %s/%s.key -out %s/%s.pem 2>/dev/null",
               dir, name, dir, name);
  CHECK(n > 0 && (size_t)n < sizeof cmd);
  CHECK_MSG(system(cmd) == 0, "openssl could not make certificate %s", name);
}

/* Sets this process's TLS settings: certificate `cert` trusting `ca`. */
static void use_certificate(const char* dir, const char* cert, const char* ca) {
  char p[512];
  CHECK(snprintf(p, sizeof p, "%s/%s.pem", dir, cert) < (int)sizeof p);
  CHECK_EQ(set_tls("certfile", p), 0);
  CHECK(snprintf(p, sizeof p, "%s/%s.key", dir, cert) < (int)sizeof p);
  CHECK_EQ(set_tls("keyfile", p), 0);
  CHECK(snprintf(p, sizeof p, "%s/%s.pem", dir, ca) < (int)sizeof p);
  CHECK_EQ(set_tls("cacertfile", p), 0);
  CHECK_EQ(set_tls("enabled", "true"), 0);
}

static char* temp_dir(void) {
  static char dir[64];
  snprintf(dir, sizeof dir, "/tmp/snow-abi-tls-XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  return dir;
}

static void remove_dir(const char* dir) {
  char cmd[128];
  CHECK(snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) < (int)sizeof cmd);
  CHECK(system(cmd) == 0);
}

/* ------------------------------------------------------------- settings */

TEST_CASE(bad_tls_settings_are_einval) {
  CHECK_EQ(snow_node_set_tls(NULL, 0, "true", 4), SNOW_EINVAL);
  CHECK_EQ(snow_node_set_tls("enabled", 0, "true", 4), SNOW_EINVAL);
  CHECK_EQ(snow_node_set_tls("enabled", 7, NULL, 4), SNOW_EINVAL);
  CHECK_EQ(set_tls("colour", "blue"), SNOW_EINVAL);
  CHECK_EQ(set_tls("enabled", "yes please"), SNOW_EINVAL);
  CHECK_EQ(set_tls("verify", "verify_sometimes"), SNOW_EINVAL);
  CHECK_EQ(set_tls("client_depth", "-1"), SNOW_EINVAL);
  CHECK_EQ(set_tls("certfile", ""), SNOW_EINVAL);
  char long_key[80];
  memset(long_key, 'k', sizeof long_key);
  CHECK_EQ(snow_node_set_tls(long_key, sizeof long_key, "x", 1), SNOW_EINVAL);
}

TEST_CASE(tls_without_a_certificate_is_etls_and_leaves_nothing_started) {
  th_start();
  CHECK_EQ(set_tls("enabled", "true"), 0);
  CHECK_EQ(start_node("snowtls_a@127.0.0.1"), SNOW_ETLS);
  CHECK_EQ(snow_node_name(NULL, 0), 0);
  /* TLS off again: the same start succeeds. */
  CHECK_EQ(set_tls("enabled", "false"), 0);
  CHECK_EQ(start_node("snowtls_a@127.0.0.1"), 0);
  CHECK_EQ(snow_node_stop(), 0);
  th_end();
}

TEST_CASE(an_unreadable_optfile_is_etls) {
  th_start();
  CHECK_EQ(set_tls("optfile", "/nonexistent/ssl_dist.conf"), 0);
  CHECK_EQ(start_node("snowtls_a@127.0.0.1"), SNOW_ETLS);
  th_end();
}

/* ------------------------------------------------------------- connecting */

TEST_CASE(tls_nodes_with_trusted_certificates_connect) {
  char* dir = temp_dir();
  make_certificate(dir, "one");
  use_certificate(dir, "one", "one");
  /* The child starts with this process's TLS settings. */
  child_node peer = fork_node("snowtls_peer@127.0.0.1", "c");
  th_start();
  CHECK_EQ(start_node("snowtls_a@127.0.0.1"), 0);
  CHECK_EQ(snow_node_connect("snowtls_peer@127.0.0.1", 22), 0);
  CHECK_EQ(snow_node_stop(), 0);
  th_end();
  end_child(peer);
  remove_dir(dir);
}

TEST_CASE(an_untrusted_certificate_is_etls) {
  char* dir = temp_dir();
  make_certificate(dir, "one");
  make_certificate(dir, "two");
  use_certificate(dir, "two", "two");
  /* The child starts with this process's TLS settings. */
  child_node peer = fork_node("snowtls_peer@127.0.0.1", "c");
  use_certificate(dir, "one", "one");
  th_start();
  CHECK_EQ(start_node("snowtls_a@127.0.0.1"), 0);
  CHECK_EQ(snow_node_connect("snowtls_peer@127.0.0.1", 22), SNOW_ETLS);
  CHECK_EQ(snow_node_stop(), 0);
  th_end();
  end_child(peer);
  remove_dir(dir);
}
