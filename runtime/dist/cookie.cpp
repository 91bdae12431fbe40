// The default cookie, as erl finds it: the first line of
// $HOME/.erlang.cookie, a file only its owner may read. dist_start asks for
// it when the caller gives no cookie. Any thread.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"
#include "runtime/dist/dist_internal.h"

namespace snow::rt::dist {

namespace {
// A cookie is at most this long (snow_node_start's own limit).
constexpr size_t kMaxCookie = 1024;
}  // namespace

int64_t read_default_cookie(std::string* out) {
  const char* home = std::getenv("HOME");
  if (!home || !*home) {
    log_line("snowrt: no cookie given and HOME is not set");
    return SNOW_ENOCOOKIE;
  }
  std::string path = std::string(home) + "/.erlang.cookie";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    log_line("snowrt: no cookie given and %s cannot be read", path.c_str());
    return SNOW_ENOCOOKIE;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
    ::close(fd);
    log_line("snowrt: %s must be a file accessible by its owner only", path.c_str());
    return SNOW_ENOCOOKIE;
  }
  char buf[kMaxCookie + 1];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  std::string cookie(buf, n > 0 ? size_t(n) : 0);
  cookie = cookie.substr(0, cookie.find_first_of("\r\n"));
  while (!cookie.empty() && (cookie.back() == ' ' || cookie.back() == '\t')) cookie.pop_back();
  if (cookie.empty() || cookie.size() > kMaxCookie) {
    log_line("snowrt: %s holds no cookie of 1 to %zu bytes on its first line", path.c_str(), kMaxCookie);
    return SNOW_ENOCOOKIE;
  }
  *out = std::move(cookie);
  return 0;
}

}  // namespace snow::rt::dist
