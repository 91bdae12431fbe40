// TLS distribution, compatible with OTP's inet_tls_dist: the TCP
// connection is TLS from its first byte and the distribution handshake and
// frames run inside it, every message with a 4-byte length (inet_tls_dist
// opens its sockets with {packet, 4}, the handshake included).
//
// Vocabulary:
// - *Settings*: what snow_node_set_tls and the SNOW_DIST_TLS* variables
//   configure (tls_config.cpp): on or off, an optfile in ssl_dist.conf's
//   syntax, and per side (server: connections we accept; client: those we
//   open) the certificate, key, CA file and verification.
// - *Contexts*: the two OpenSSL SSL_CTX built from the settings at node
//   start (tls.cpp); they live until the node stops.
// - *Session*: one connection's SSL object between two memory BIOs.
//   libuv reads go into the read BIO; the plaintext OpenSSL gives back is
//   fed to the connection's framing (conn_feed). What the connection writes
//   is sealed (SSL_write) and the write BIO's ciphertext goes out through
//   libuv.
//
// Ownership and threads: settings are guarded by their own mutex (any
// thread: the ABI sets them, dist_start reads them). Contexts are made by
// dist_start before the loop runs and freed by dist_stop after it ended;
// sessions belong to their connection and are loop only. TLS connections
// never take the senders' direct-write path (their WriteGate stays closed):
// every frame goes through the loop, which seals it.
//
// A session's states: handshaking (created by tls_begin; plaintext written
// meanwhile waits in the session, at most the few distribution handshake
// messages) --TLS handshake done, peer verified--> open (plaintext flows)
// --any TLS error--> the connection is closed. The TLS handshake counts
// against the connection's handshake timeout, and every byte a peer sends
// is consumed as it arrives, so a peer that fails it holds bounded memory
// and time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace snow::rt::dist {

struct Conn;
struct WriteReq;

// One side's settings, as in an ssl_dist.conf {server, [...]} or
// {client, [...]} list.
struct TlsSide {
  std::string certfile, keyfile, cacertfile, password;
  bool verify_peer = true;           // verify_peer (the default here) or verify_none
  bool fail_if_no_peer_cert = true;  // server: a client must present a certificate
  int depth = -1;                    // the longest accepted chain (-1: OpenSSL's default)
  bool tls13 = true, tls12 = true;   // {versions, [...]}
  // client: the peer's certificate must name the host of its node name
  // ({server_name_indication, disable} turns it off, as for erl).
  bool check_host = true;
};

struct TlsSettings {
  bool enabled = false;
  TlsSide server, client;
};

// ------------------------------------------------------------------ tls_config.cpp

// Sets one TLS setting for the next node start (snow_node_set_tls): key is
// "enabled", "optfile", or certfile, keyfile, cacertfile, password, verify,
// fail_if_no_peer_cert, depth (both sides), or one of those prefixed with
// "server_" or "client_". Once a setting was made this way the environment
// is not read. 0 or SNOW_EINVAL (unknown key, malformed value). Any thread.
int64_t tls_set_option(std::string_view key, std::string_view value);

// The settings the next start uses: those set through tls_set_option, or
// else the environment's (SNOW_DIST_TLS, SNOW_DIST_TLS_OPTFILE,
// SNOW_DIST_TLS_CERTFILE, ...), with the optfile read first and the single
// settings over it. 0, or SNOW_ETLS (logged) when the optfile cannot be
// read or parsed or a value is malformed. Any thread.
int64_t tls_resolve_settings(TlsSettings* out);

// Parses an optfile's text (ssl_dist.conf's syntax: one Erlang term, a
// list of {server, Opts} and {client, Opts}, ending with a dot) over *out.
// false with *error set when it is not that, or names an option this
// runtime does not implement. Bounded: depth and size are limited. Pure.
bool tls_parse_optfile(std::string_view text, TlsSettings* out, std::string* error);

// ------------------------------------------------------------------ tls.cpp

// Builds the contexts from the settings (dist_start, before the loop runs):
// 0, or SNOW_ETLS (logged) when a certificate, key or CA file cannot be
// loaded or the key does not match the certificate. With TLS off, 0 and
// nothing is built.
int64_t tls_start(const TlsSettings& s);
// Frees the contexts (dist_stop, after the loop ended).
void tls_stop();
// Whether the started node speaks TLS (set by tls_start).
bool tls_on();

// The session of connection c (the client side when c->initiator), its TLS
// handshake started. false (logged, c->fail_code set) when OpenSSL cannot
// make one. Loop only.
bool tls_begin(Conn* c);
// Bytes read from c's socket: decrypted and fed to the framing. Closes c
// on a TLS error. Loop only.
void tls_on_read(Conn* c, const uint8_t* bytes, size_t n);
// Replaces wr's buffers with their ciphertext (held in wr->owned). true
// when the caller is to write wr; false when wr was consumed: completed
// because it holds no ciphertext yet (plaintext waits for the end of the
// TLS handshake), or failed and c was closed. Loop only.
bool tls_seal(Conn* c, WriteReq* wr);

struct TlsSession;
struct TlsSessionFree {
  void operator()(TlsSession* s) const;
};
using TlsSessionPtr = std::unique_ptr<TlsSession, TlsSessionFree>;

}  // namespace snow::rt::dist
