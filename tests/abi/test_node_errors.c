/* The error codes of the snow_node_* calls: each failure a caller can meet
 * starting, connecting and stopping a node gives its own code (the list in
 * snowrt.h), and after a failed start nothing is left started.
 *
 * These cases start nodes and talk to the port mapper (a fake one on a
 * port of its own where the case needs one that misbehaves): run them
 * under /tmp/snowrt-dist.lock like the other multi-node tests. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child_node.h"
#include "harness.h"
#include "log_capture.h"

/* ------------------------------------------------------------- helpers */

/* A TCP socket listening on 127.0.0.1 (any interface when `any`), on a
 * port the kernel picks; *port receives it. */
static int listen_socket(bool any, int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK);
  CHECK(bind(fd, (struct sockaddr*)&a, sizeof a) == 0);
  CHECK(listen(fd, 8) == 0);
  socklen_t len = sizeof a;
  CHECK(getsockname(fd, (struct sockaddr*)&a, &len) == 0);
  *port = ntohs(a.sin_port);
  return fd;
}

static int64_t start_node(const char* name, const char* cookie) {
  return snow_node_start(name, strlen(name), cookie, cookie ? strlen(cookie) : 0);
}

/* A fake port mapper: accepts one registration and reads it, then closes
 * without answering (reply NULL), or answers `reply` and holds the
 * connection until the node closes it. */
typedef struct fake_epmd {
  int fd;
  const char* reply; /* NULL: close without a word */
  pthread_t thread;
} fake_epmd;

static void* fake_epmd_serve(void* arg) {
  fake_epmd* f = arg;
  int c = accept(f->fd, NULL, NULL);
  if (c < 0) return NULL;
  uint8_t req[512];
  if (read(c, req, sizeof req) <= 0) {
    close(c);
    return NULL;
  }
  if (!f->reply || write(c, f->reply, strlen(f->reply)) < 0) {
    close(c);
    return NULL;
  }
  /* Hold the connection until the node gives up on it. */
  while (read(c, req, sizeof req) > 0) {
  }
  close(c);
  return NULL;
}

static void fake_epmd_start(fake_epmd* f, const char* reply) {
  int port;
  f->fd = listen_socket(false, &port);
  f->reply = reply;
  char p[16];
  snprintf(p, sizeof p, "%d", port);
  setenv("ERL_EPMD_PORT", p, 1);
  CHECK(pthread_create(&f->thread, NULL, fake_epmd_serve, f) == 0);
}

static void fake_epmd_join(fake_epmd* f) {
  pthread_join(f->thread, NULL);
  close(f->fd);
  unsetenv("ERL_EPMD_PORT");
}

/* A fresh directory as $HOME, holding .erlang.cookie with `cookie` (none
 * when NULL) and mode `mode`. */
static char home_dir[64];

static void home_with_cookie(const char* cookie, mode_t mode) {
  char* dir = home_dir;
  snprintf(home_dir, sizeof home_dir, "/tmp/snowrt-home-XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  setenv("HOME", dir, 1);
  if (!cookie) return;
  char path[128];
  snprintf(path, sizeof path, "%s/.erlang.cookie", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  CHECK(write(fd, cookie, strlen(cookie)) == (ssize_t)strlen(cookie));
  close(fd);
  CHECK(chmod(path, mode) == 0);
}

static void home_remove(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/.erlang.cookie", home_dir);
  unlink(path);
  CHECK(rmdir(home_dir) == 0);
}

/* ------------------------------------------------------------- starting */

TEST_CASE(start_before_the_runtime_is_enotstarted) {
  snow_rt_init();
  CHECK_EQ(start_node("snowerr_a@127.0.0.1", "c"), SNOW_ENOTSTARTED);
}

TEST_CASE(listen_port_in_use_is_eaddrinuse_and_leaves_nothing_started) {
  int port;
  int blocker = listen_socket(true, &port);
  th_start();
  char name[64];
  snprintf(name, sizeof name, "snowerr_a@127.0.0.1:%d", port);
  CHECK_EQ(start_node(name, "c"), SNOW_EADDRINUSE);
  CHECK(strcmp(snow_strerror(SNOW_EADDRINUSE), "address already in use") == 0);
  CHECK_EQ(snow_node_name(NULL, 0), 0);
  CHECK_EQ(snow_node_stop(), SNOW_ENOTSTARTED);
  /* The port freed, the same call succeeds. */
  close(blocker);
  CHECK_EQ(start_node(name, "c"), 0);
  CHECK_EQ(snow_node_stop(), 0);
  th_end();
}

TEST_CASE(every_port_of_the_listen_range_in_use_is_eaddrinuse) {
  int port;
  int blocker = listen_socket(true, &port);
  char p[16];
  snprintf(p, sizeof p, "%d", port);
  setenv("SNOW_DIST_LISTEN_MIN", p, 1);
  setenv("SNOW_DIST_LISTEN_MAX", p, 1);
  th_start();
  CHECK_EQ(start_node("snowerr_a@127.0.0.1", "c"), SNOW_EADDRINUSE);
  close(blocker);
  th_end();
}

TEST_CASE(malformed_listen_setting_is_einval) {
  setenv("SNOW_DIST_LISTEN_MIN", "not-a-port", 1);
  th_start();
  CHECK_EQ(start_node("snowerr_a@127.0.0.1", "c"), SNOW_EINVAL);
  th_end();
}

TEST_CASE(oversized_cookie_is_einval) {
  th_start();
  static char cookie[1026];
  memset(cookie, 'x', sizeof cookie - 1);
  CHECK_EQ(start_node("snowerr_a@127.0.0.1", cookie), SNOW_EINVAL);
  th_end();
}

TEST_CASE(bad_node_name_is_ebadname) {
  th_start();
  CHECK_EQ(start_node("no-at-sign", "c"), SNOW_EBADNAME);
  CHECK_EQ(start_node("snowerr_a@127.0.0.1:notaport", "c"), SNOW_EBADNAME);
  th_end();
}

TEST_CASE(second_start_is_ealready) {
  th_start();
  CHECK_EQ(start_node("snowerr_a@127.0.0.1", "c"), 0);
  CHECK_EQ(start_node("snowerr_b@127.0.0.1", "c"), SNOW_EALREADY);
  CHECK_EQ(snow_node_stop(), 0);
  th_end();
}

TEST_CASE(name_taken_at_the_port_mapper_is_eexist) {
  child_node other = fork_node("snowerr_taken@127.0.0.1", "c");
  th_start();
  CHECK_EQ(start_node("snowerr_taken@127.0.0.1", "c"), SNOW_EEXIST);
  end_child(other);
  /* The port mapper forgets the name when the other node's registration
   * closes; from then on the same call succeeds. */
  int64_t deadline = th_now_ms() + th_wait_ms();
  int64_t rc;
  while ((rc = start_node("snowerr_taken@127.0.0.1", "c")) == SNOW_EEXIST && th_now_ms() < deadline) {
    snow_timer_sleep(20);
  }
  CHECK_EQ(rc, 0);
  CHECK_EQ(snow_node_stop(), 0);
  th_end();
}

TEST_CASE(port_mapper_closing_the_registration_is_eepmd) {
  fake_epmd f;
  fake_epmd_start(&f, NULL);
  th_start();
  int64_t rc = start_node("snowerr_a@127.0.0.1", "c");
  CHECK_EQ(rc, SNOW_EEPMD);
  CHECK(strcmp(snow_strerror(rc), "port mapper (epmd) failed") == 0);
  fake_epmd_join(&f);
  th_end();
}

TEST_CASE(port_mapper_answering_another_protocol_is_eepmd) {
  fake_epmd f;
  fake_epmd_start(&f, "HTTP/1.0 400 Bad Request\r\n\r\n");
  th_start();
  CHECK_EQ(start_node("snowerr_a@127.0.0.1", "c"), SNOW_EEPMD);
  fake_epmd_join(&f);
  th_end();
}

TEST_CASE(empty_cookie_without_a_cookie_file_is_enocookie) {
  home_with_cookie(NULL, 0);
  th_start();
  CHECK_EQ(start_node("snowerr_a@127.0.0.1", NULL), SNOW_ENOCOOKIE);
  CHECK_EQ(snow_node_start("snowerr_a@127.0.0.1", 19, "", 0), SNOW_ENOCOOKIE);
  th_end();
  home_remove();
}

TEST_CASE(cookie_file_readable_by_others_is_enocookie) {
  home_with_cookie("filecookie\n", 0644);
  th_start();
  CHECK_EQ(start_node("snowerr_a@127.0.0.1", NULL), SNOW_ENOCOOKIE);
  th_end();
  home_remove();
}

TEST_CASE(empty_cookie_uses_the_cookie_file) {
  child_node peer = fork_node("snowerr_peer@127.0.0.1", "filecookie");
  home_with_cookie("filecookie\n", 0400);
  th_start();
  CHECK_EQ(start_node("snowerr_a@127.0.0.1", NULL), 0);
  CHECK_EQ(snow_node_connect("snowerr_peer@127.0.0.1", 22), 0);
  CHECK_EQ(snow_node_stop(), 0);
  end_child(peer);
  th_end();
  home_remove();
}

/* ------------------------------------------------------------- connecting */

TEST_CASE(connect_stop_disconnect_without_a_node_are_enotstarted) {
  th_start();
  CHECK_EQ(snow_node_connect("snowerr_b@127.0.0.1", 19), SNOW_ENOTSTARTED);
  CHECK_EQ(snow_node_disconnect("snowerr_b@127.0.0.1", 19), SNOW_ENOTSTARTED);
  CHECK_EQ(snow_node_stop(), SNOW_ENOTSTARTED);
  th_end();
}

TEST_CASE(connect_with_the_wrong_cookie_is_eauth) {
  child_node peer = fork_node("snowerr_peer@127.0.0.1", "right");
  th_start();
  CHECK_EQ(start_node("snowerr_a@127.0.0.1", "wrong"), 0);
  CHECK_EQ(snow_node_connect("snowerr_peer@127.0.0.1", 22), SNOW_EAUTH);
  CHECK_EQ(snow_node_stop(), 0);
  end_child(peer);
  th_end();
}

TEST_CASE(connect_to_a_name_the_port_mapper_does_not_know_is_enonode) {
  th_start();
  CHECK_EQ(start_node("snowerr_a@127.0.0.1", "c"), 0);
  CHECK_EQ(snow_node_connect("snowerr_nobody@127.0.0.1", 24), SNOW_ENONODE);
  CHECK_EQ(snow_node_disconnect("snowerr_nobody@127.0.0.1", 24), SNOW_ENONODE);
  CHECK_EQ(snow_node_stop(), 0);
  th_end();
}

TEST_CASE(connect_to_a_closed_port_is_econnrefused) {
  int port;
  close(listen_socket(false, &port)); /* a port nobody listens on now */
  th_start();
  CHECK_EQ(start_node("snowerr_a@127.0.0.1", "c"), 0);
  char peer[64];
  snprintf(peer, sizeof peer, "snowerr_b@127.0.0.1:%d", port);
  CHECK_EQ(snow_node_connect(peer, strlen(peer)), SNOW_ECONNREFUSED);
  CHECK_EQ(snow_node_stop(), 0);
  th_end();
}

/* ------------------------------------------------------------- log lines */

/* Opens a TCP connection to 127.0.0.1:port and sends a handshake frame
 * that is not one (a 3-byte frame of "abc"), as any host that can reach
 * the node's port may. */
static void send_bogus_handshake(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  CHECK(connect(fd, (struct sockaddr*)&a, sizeof a) == 0);
  static const char frame[] = {0, 3, 'a', 'b', 'c'};
  CHECK(write(fd, frame, sizeof frame) == (ssize_t)sizeof frame);
  char b;
  (void)!read(fd, &b, 1); /* until the node closes it */
  close(fd);
}

static int start_node_on_free_port(void) {
  int port;
  close(listen_socket(true, &port));
  char name[64];
  snprintf(name, sizeof name, "snowerr_a@127.0.0.1:%d", port);
  CHECK_EQ(start_node(name, "c"), 0);
  return port;
}

TEST_CASE(refused_handshake_reaches_the_log_handler_as_a_warning) {
  log_capture cap;
  log_capture_install(&cap);
  th_start();
  int port = start_node_on_free_port();
  send_bogus_handshake(port);
  CHECK(log_capture_wait(&cap, SNOW_LOG_WARNING, "connection attempt from"));
  CHECK_EQ(snow_node_stop(), 0);
  log_capture_remove(&cap);
  th_end();
}

TEST_CASE(refused_handshake_is_not_logged_at_the_error_level) {
  log_capture cap;
  log_capture_install(&cap);
  CHECK(snow_rt_set_log_level(SNOW_LOG_ERROR) >= 0);
  th_start();
  int port = start_node_on_free_port();
  send_bogus_handshake(port);
  /* The node logs before it closes a connection, so once the read above
   * has returned the line would have been delivered. Our own failed
   * connect (a warning too) must not be either. */
  int closed;
  close(listen_socket(false, &closed));
  char peer[64];
  snprintf(peer, sizeof peer, "snowerr_b@127.0.0.1:%d", closed);
  CHECK_EQ(snow_node_connect(peer, strlen(peer)), SNOW_ECONNREFUSED);
  CHECK_EQ(log_capture_count(&cap), 0);
  CHECK_EQ(snow_node_stop(), 0);
  log_capture_remove(&cap);
  th_end();
}
