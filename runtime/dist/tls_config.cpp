// TLS distribution settings (tls.h): what snow_node_set_tls sets, what the
// SNOW_DIST_TLS* variables say, and the optfile in ssl_dist.conf's syntax,
// read at each node start. Any thread (the settings' own mutex).
//
// The optfile parser reads the subset of Erlang's term syntax such files
// use: lists, tuples, atoms (bare or quoted), strings, integers, `%`
// comments and the closing dot. It reads a file an operator wrote, but it
// is written as if hostile: the text is bounded (kMaxOptfile), nesting is
// bounded (kMaxDepth), and every option it does not implement is refused
// by name rather than ignored, so a node never runs with less security
// than its file asks for.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <utility>
#include <vector>

#include "abi/include/snowrt.h"
#include "runtime/common/common.h"
#include "runtime/dist/tls.h"

namespace snow::rt::dist {

namespace {

constexpr size_t kMaxOptfile = 64 * 1024;
constexpr int kMaxDepth = 6;

// ------------------------------------------------------------------ the term reader

struct Term {
  enum Kind : uint8_t { Atom, String, Int, List, Tuple } kind = Atom;
  std::string text;  // atom or string
  long long n = 0;
  std::vector<Term> items;
};

class Reader {
 public:
  explicit Reader(std::string_view t) : t_(t) {}

  // One term and the closing dot, nothing after them but blanks and comments.
  bool file(Term* out, std::string* error) {
    if (!term(out, 0) || !punct('.')) {
      *error = error_.empty() ? "expected a term ending with '.'" : error_;
      return false;
    }
    skip();
    if (i_ != t_.size()) {
      *error = where("text after the closing '.'");
      return false;
    }
    return true;
  }

 private:
  std::string_view t_;
  size_t i_ = 0;
  std::string error_;

  std::string where(const char* what) {
    size_t line = 1;
    for (size_t k = 0; k < i_ && k < t_.size(); ++k)
      if (t_[k] == '\n') ++line;
    return std::string(what) + " at line " + std::to_string(line);
  }
  bool fail(const char* what) {
    if (error_.empty()) error_ = where(what);
    return false;
  }
  void skip() {
    while (i_ < t_.size()) {
      char ch = t_[i_];
      if (ch == '%') {
        while (i_ < t_.size() && t_[i_] != '\n') ++i_;
      } else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
        ++i_;
      } else {
        break;
      }
    }
  }
  bool punct(char ch) {
    skip();
    if (i_ < t_.size() && t_[i_] == ch) {
      ++i_;
      return true;
    }
    return false;
  }
  // The body of a quoted atom or string; the opening quote is consumed.
  bool quoted(char q, std::string* out) {
    while (i_ < t_.size()) {
      char ch = t_[i_++];
      if (ch == q) return true;
      if (ch == '\\') {
        if (i_ >= t_.size()) break;
        char e = t_[i_++];
        switch (e) {
          case 'n':
            ch = '\n';
            break;
          case 't':
            ch = '\t';
            break;
          case '\\':
          case '"':
          case '\'':
            ch = e;
            break;
          default:
            return fail("unsupported escape in a quoted text");
        }
      } else if (ch == 0) {
        return fail("NUL byte in a quoted text");
      }
      out->push_back(ch);
    }
    return fail("unterminated quoted text");
  }
  bool sequence(char close, Term* out, int depth) {
    if (punct(close)) return true;
    do {
      out->items.emplace_back();
      if (!term(&out->items.back(), depth + 1)) return false;
    } while (punct(','));
    return punct(close) || fail("expected ',' or a closing bracket");
  }
  bool term(Term* out, int depth) {
    if (depth > kMaxDepth) return fail("terms nested too deeply");
    skip();
    if (i_ >= t_.size()) return fail("unexpected end of the file");
    char ch = t_[i_];
    if (ch == '[' || ch == '{') {
      ++i_;
      out->kind = ch == '[' ? Term::List : Term::Tuple;
      return sequence(ch == '[' ? ']' : '}', out, depth);
    }
    if (ch == '"' || ch == '\'') {
      ++i_;
      out->kind = ch == '"' ? Term::String : Term::Atom;
      return quoted(ch, &out->text);
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
      size_t start = i_++;
      while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9' && i_ - start < 12) ++i_;
      std::string digits(t_.substr(start, i_ - start));
      char* end;
      out->kind = Term::Int;
      out->n = strtoll(digits.c_str(), &end, 10);
      return (*end == 0 && digits != "-") || fail("malformed integer");
    }
    if (ch >= 'a' && ch <= 'z') {
      size_t start = i_;
      while (i_ < t_.size() && (isalnum(static_cast<unsigned char>(t_[i_])) || t_[i_] == '_' || t_[i_] == '@')) ++i_;
      out->kind = Term::Atom;
      out->text = std::string(t_.substr(start, i_ - start));
      return true;
    }
    return fail("unexpected character");
  }
};

// ------------------------------------------------------------------ options

bool parse_bool(std::string_view v, bool* out) {
  if (v == "true" || v == "1") *out = true;
  else if (v == "false" || v == "0") *out = false;
  else return false;
  return true;
}

// One option of one side, by its ssl_dist.conf name and textual value
// (atoms and strings alike). false with *error when the name is unknown or
// the value malformed.
bool apply_side_option(TlsSide* s, std::string_view name, std::string_view value, std::string* error) {
  auto path = [&](std::string* field) {
    if (value.empty() || value.find('\0') != std::string_view::npos) {
      *error = std::string(name) + " must be a non-empty path";
      return false;
    }
    *field = std::string(value);
    return true;
  };
  if (name == "certfile") return path(&s->certfile);
  if (name == "keyfile") return path(&s->keyfile);
  if (name == "cacertfile") return path(&s->cacertfile);
  if (name == "password") {
    if (value.find('\0') != std::string_view::npos) return false;
    s->password = std::string(value);
    return true;
  }
  if (name == "verify") {
    if (value == "verify_peer") s->verify_peer = true;
    else if (value == "verify_none") s->verify_peer = false;
    else return *error = "verify must be verify_peer or verify_none", false;
    return true;
  }
  if (name == "fail_if_no_peer_cert") {
    if (!parse_bool(value, &s->fail_if_no_peer_cert))
      return *error = "fail_if_no_peer_cert must be true or false", false;
    return true;
  }
  if (name == "depth") {
    char* end;
    std::string v(value);
    long d = strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != 0 || d < 0 || d > 100) return *error = "depth must be 0 to 100", false;
    s->depth = int(d);
    return true;
  }
  *error = "unsupported option " + std::string(name);
  return false;
}

// {Name, Value} of an optfile's side list.
bool apply_optfile_option(TlsSide* s, const Term& opt, std::string* error) {
  if (opt.kind != Term::Tuple || opt.items.size() != 2 || opt.items[0].kind != Term::Atom) {
    *error = "an option is not {name, value}";
    return false;
  }
  const std::string& name = opt.items[0].text;
  const Term& v = opt.items[1];
  // Accepted, and already how this runtime behaves: renegotiation is
  // refused altogether and sessions are not resumed.
  if (name == "secure_renegotiate" || name == "reuse_sessions") return v.kind == Term::Atom;
  if (name == "server_name_indication") {
    if (v.kind == Term::Atom && v.text == "disable") {
      s->check_host = false;
      return true;
    }
    *error = "server_name_indication: only disable is supported";
    return false;
  }
  if (name == "versions") {
    if (v.kind != Term::List || v.items.empty()) return *error = "versions must be a list", false;
    s->tls12 = s->tls13 = false;
    for (const Term& x : v.items) {
      if (x.kind == Term::Atom && x.text == "tlsv1.2") s->tls12 = true;
      else if (x.kind == Term::Atom && x.text == "tlsv1.3") s->tls13 = true;
      else return *error = "versions: only 'tlsv1.2' and 'tlsv1.3' are supported", false;
    }
    return true;
  }
  std::string text;
  if (v.kind == Term::Int) text = std::to_string(v.n);
  else if (v.kind == Term::Atom || v.kind == Term::String) text = v.text;
  else return *error = name + ": unexpected value", false;
  return apply_side_option(s, name, text, error);
}

// The settings made through snow_node_set_tls, in order (once there is
// one, the environment is not read).
std::mutex g_mu;
std::vector<std::pair<std::string, std::string>> g_abi_settings;
bool g_abi_used = false;

bool read_file(const std::string& path, std::string* out, std::string* error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    *error = "cannot open " + path + ": " + strerror(errno);
    return false;
  }
  out->resize(kMaxOptfile + 1);
  f.read(out->data(), std::streamsize(out->size()));
  out->resize(size_t(f.gcount()));
  if (out->size() > kMaxOptfile) {
    *error = path + " is over 64 KiB";
    return false;
  }
  return true;
}

// Applies one key of snow_node_set_tls (or its environment variable) over
// *s. "optfile" reads and parses the file.
bool apply_setting(TlsSettings* s, std::string_view key, std::string_view value, std::string* error) {
  if (key == "enabled") {
    if (!parse_bool(value, &s->enabled)) return *error = "enabled must be true or false", false;
    return true;
  }
  if (key == "optfile") {
    std::string text;
    if (value.empty() || !read_file(std::string(value), &text, error)) {
      if (value.empty()) *error = "optfile must be a path";
      return false;
    }
    std::string why;
    if (!tls_parse_optfile(text, s, &why)) {
      *error = std::string(value) + ": " + why;
      return false;
    }
    s->enabled = true;
    return true;
  }
  if (key.substr(0, 7) == "server_") return apply_side_option(&s->server, key.substr(7), value, error);
  if (key.substr(0, 7) == "client_") return apply_side_option(&s->client, key.substr(7), value, error);
  if (key == "fail_if_no_peer_cert") return apply_side_option(&s->server, key, value, error);
  TlsSide server = s->server;
  if (!apply_side_option(&server, key, value, error) || !apply_side_option(&s->client, key, value, error)) return false;
  s->server = server;
  return true;
}

// The environment's settings as snow_node_set_tls keys, the optfile first.
std::vector<std::pair<std::string, std::string>> environment_settings() {
  static const std::pair<const char*, const char*> vars[] = {
      {"SNOW_DIST_TLS", "enabled"},
      {"SNOW_DIST_TLS_OPTFILE", "optfile"},
      {"SNOW_DIST_TLS_CERTFILE", "certfile"},
      {"SNOW_DIST_TLS_KEYFILE", "keyfile"},
      {"SNOW_DIST_TLS_CACERTFILE", "cacertfile"},
      {"SNOW_DIST_TLS_VERIFY", "verify"},
      {"SNOW_DIST_TLS_FAIL_IF_NO_PEER_CERT", "fail_if_no_peer_cert"},
  };
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& [var, key] : vars)
    if (const char* v = getenv(var); v && *v) out.emplace_back(key, v);
  return out;
}

}  // namespace

bool tls_parse_optfile(std::string_view text, TlsSettings* out, std::string* error) {
  Term top;
  if (text.size() > kMaxOptfile) return *error = "over 64 KiB", false;
  if (!Reader(text).file(&top, error)) return false;
  if (top.kind != Term::List) return *error = "not a list of {server, Options} and {client, Options}", false;
  TlsSettings s = *out;
  for (const Term& side : top.items) {
    if (side.kind != Term::Tuple || side.items.size() != 2 || side.items[0].kind != Term::Atom ||
        side.items[1].kind != Term::List)
      return *error = "an element is not {server, Options} or {client, Options}", false;
    TlsSide* target;
    if (side.items[0].text == "server") target = &s.server;
    else if (side.items[0].text == "client") target = &s.client;
    else return *error = "unknown side " + side.items[0].text + " (server or client)", false;
    for (const Term& opt : side.items[1].items) {
      std::string why;
      if (!apply_optfile_option(target, opt, &why)) return *error = side.items[0].text + ": " + why, false;
    }
  }
  *out = std::move(s);
  return true;
}

int64_t tls_set_option(std::string_view key, std::string_view value) {
  // The value is checked now (an optfile is read at start: it may change).
  TlsSettings scratch;
  std::string error;
  if (key == "optfile" ? value.empty() || value.find('\0') != std::string_view::npos
                       : !apply_setting(&scratch, key, value, &error))
    return SNOW_EINVAL;
  std::lock_guard<std::mutex> lk(g_mu);
  g_abi_used = true;
  g_abi_settings.emplace_back(key, value);
  return 0;
}

int64_t tls_resolve_settings(TlsSettings* out) {
  std::vector<std::pair<std::string, std::string>> settings;
  {
    std::lock_guard<std::mutex> lk(g_mu);
    settings = g_abi_used ? g_abi_settings : environment_settings();
  }
  // The optfile first: the single settings refine it.
  std::stable_partition(settings.begin(), settings.end(), [](const auto& kv) { return kv.first == "optfile"; });
  TlsSettings s;
  for (auto& [key, value] : settings) {
    std::string error;
    if (!apply_setting(&s, key, value, &error)) {
      log_line("snowrt: TLS distribution setting %s: %s", key.c_str(), error.c_str());
      return SNOW_ETLS;
    }
  }
  *out = std::move(s);
  return 0;
}

}  // namespace snow::rt::dist
