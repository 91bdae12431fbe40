// The TLS distribution optfile reader (ssl_dist.conf's syntax) and the
// settings snow_node_set_tls takes: what operators' files configure, and
// what malformed or hostile text gets (an error, never a crash or a
// setting silently dropped).
#include <catch2/catch.hpp>

#include <string>

#include "abi/include/snowrt.h"
#include "runtime/dist/tls.h"

using namespace snow::rt::dist;

namespace {

bool parse(const std::string& text, TlsSettings* s, std::string* error = nullptr) {
  std::string e;
  bool ok = tls_parse_optfile(text, s, &e);
  if (error) *error = e;
  return ok;
}

}  // namespace

TEST_CASE("an optfile configures each side", "[tls]") {
  TlsSettings s;
  std::string error;
  REQUIRE(
      parse("% an ssl_dist.conf\n"
            "[{server, [{certfile, \"/etc/n/cert.pem\"}, {keyfile, \"/etc/n/key.pem\"},\n"
            "           {cacertfile, \"/etc/n/ca.pem\"}, {verify, verify_peer},\n"
            "           {fail_if_no_peer_cert, false}, {secure_renegotiate, true}, {depth, 3}]},\n"
            " {client, [{cacertfile, \"/etc/n/ca.pem\"}, {verify, verify_none},\n"
            "           {versions, ['tlsv1.2']}, {server_name_indication, disable}]}].\n",
            &s, &error));
  CHECK(s.server.certfile == "/etc/n/cert.pem");
  CHECK(s.server.keyfile == "/etc/n/key.pem");
  CHECK(s.server.cacertfile == "/etc/n/ca.pem");
  CHECK(s.server.verify_peer);
  CHECK_FALSE(s.server.fail_if_no_peer_cert);
  CHECK(s.server.depth == 3);
  CHECK(s.client.certfile.empty());
  CHECK_FALSE(s.client.verify_peer);
  CHECK(s.client.tls12);
  CHECK_FALSE(s.client.tls13);
  CHECK_FALSE(s.client.check_host);
}

TEST_CASE("an optfile's defaults verify the peer", "[tls]") {
  TlsSettings s;
  REQUIRE(parse("[{server, [{certfile, \"c.pem\"}]}, {client, []}].", &s));
  CHECK(s.server.verify_peer);
  CHECK(s.server.fail_if_no_peer_cert);
  CHECK(s.client.verify_peer);
  CHECK(s.client.check_host);
}

TEST_CASE("quoted atoms and string escapes are read", "[tls]") {
  TlsSettings s;
  REQUIRE(parse("[{'server', [{'certfile', \"a\\\"b\\\\c\"}]}].", &s));
  CHECK(s.server.certfile == "a\"b\\c");
}

TEST_CASE("an option the runtime does not implement is refused by name", "[tls]") {
  TlsSettings s;
  std::string error;
  CHECK_FALSE(parse("[{server, [{verify_fun, {m, f, []}}]}].", &s, &error));
  CHECK(error.find("verify_fun") != std::string::npos);
  CHECK_FALSE(parse("[{client, [{crl_check, true}]}].", &s, &error));
  CHECK(error.find("crl_check") != std::string::npos);
}

TEST_CASE("malformed optfiles are refused", "[tls]") {
  const char* bad[] = {
      "",
      "[{server, []}]",                        // no closing dot
      "[{server, []}]. junk",                  // text after the dot
      "[{server, [{certfile, \"a.pem}]}].",    // unterminated string
      "[{server, [{certfile, \"a\\qb\"}]}].",  // unknown escape
      "[{server, [{verify, maybe}]}].",        // bad value
      "[{server, [{depth, 99999999999999999}]}].",
      "[{server, [{depth, -}]}].",
      "[{both, []}].",                           // unknown side
      "{server, []}.",                           // not a list
      "[{server, [certfile]}].",                 // not {name, value}
      "[{server, [{certfile, \"\"}]}].",         // empty path
      "[{server, [{versions, ['tlsv1.1']}]}].",  // no TLS 1.1
      "[{server, [{certfile, \"a\"}",            // truncated
      "[{server, [{certfile, \"a\"} {keyfile, \"b\"}]}].",
      "[{server, [{certfile, $a}]}].",
  };
  for (const char* text : bad) {
    TlsSettings s;
    std::string error;
    INFO(text);
    CHECK_FALSE(parse(text, &s, &error));
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("nesting and size are bounded", "[tls]") {
  TlsSettings s;
  std::string deep = std::string(100000, '[') + std::string(100000, ']') + ".";
  std::string error;
  CHECK_FALSE(parse(deep, &s, &error));
  std::string nested = std::string(20, '[') + std::string(20, ']') + ".";
  CHECK_FALSE(parse(nested, &s, &error));
  CHECK(error.find("deeply") != std::string::npos);
  std::string big = "[{server, [{certfile, \"" + std::string(70000, 'a') + "\"}]}].";
  CHECK_FALSE(parse(big, &s, &error));
}

TEST_CASE("a refused optfile leaves the settings as they were", "[tls]") {
  TlsSettings s;
  s.server.certfile = "before.pem";
  CHECK_FALSE(parse("[{server, [{certfile, \"after.pem\"}, {bogus, 1}]}].", &s));
  CHECK(s.server.certfile == "before.pem");
}

TEST_CASE("snow_node_set_tls keys are checked when set", "[tls]") {
  CHECK(tls_set_option("nonsense", "x") == SNOW_EINVAL);
  CHECK(tls_set_option("verify", "sometimes") == SNOW_EINVAL);
  CHECK(tls_set_option("server_depth", "x") == SNOW_EINVAL);
  CHECK(tls_set_option("enabled", "maybe") == SNOW_EINVAL);
  CHECK(tls_set_option("optfile", "") == SNOW_EINVAL);
  CHECK(tls_set_option("client_verify_fun", "x") == SNOW_EINVAL);
}
