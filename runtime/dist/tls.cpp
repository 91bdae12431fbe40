// TLS distribution: the contexts built from the settings at node start,
// and each connection's session between libuv and the framing (tls.h has
// the vocabulary and the session's states). Contexts: the thread that
// starts and stops the node; sessions: loop only.
#include "runtime/dist/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <climits>
#include <cstring>

#include "runtime/common/common.h"
#include "runtime/dist/dist_internal.h"

namespace snow::rt::dist {

struct TlsSession {
  SSL* ssl = nullptr;  // owns both memory BIOs
  BIO* wbio = nullptr;
  bool open = false;             // the TLS handshake is done
  std::vector<uint8_t> pending;  // plaintext written before it was
  ~TlsSession() {
    if (ssl) SSL_free(ssl);
  }
};

void TlsSessionFree::operator()(TlsSession* s) const { delete s; }

namespace {

SSL_CTX* g_server = nullptr;  // connections we accept
SSL_CTX* g_client = nullptr;  // connections we open
bool g_on = false;
bool g_client_check_host = true;

// Plaintext lands here (under loop_mu, as the read chunk of connection.cpp)
// before conn_feed copies it.
uint8_t g_plain[16 * 1024];

// OpenSSL's queued errors as one line (empties the queue).
std::string ssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char b[256];
    ERR_error_string_n(e, b, sizeof b);
    if (!out.empty()) out += "; ";
    out += b;
  }
  return out.empty() ? "no detail" : out;
}

SSL_CTX* make_context(const TlsSide& s, bool server, std::string* why) {
  const char* side = server ? "server" : "client";
  if (server && s.certfile.empty()) {
    *why = "server: no certfile (a TLS node needs a certificate to accept connections)";
    return nullptr;
  }
  if (s.verify_peer && s.cacertfile.empty()) {
    *why = std::string(side) + ": verify_peer needs a cacertfile";
    return nullptr;
  }
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!ctx) {
    *why = ssl_errors();
    return nullptr;
  }
  auto fail = [&](const std::string& what) {
    *why = std::string(side) + ": " + what + ": " + ssl_errors();
    SSL_CTX_free(ctx);
    return nullptr;
  };
  SSL_CTX_set_min_proto_version(ctx, s.tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, s.tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  // No renegotiation (a peer could make us repeat handshakes at will) and
  // no session resumption: a connection lives long, so it buys nothing.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  // The key's password, if any, is read only while the key is loaded below.
  SSL_CTX_set_default_passwd_cb_userdata(ctx, s.password.empty() ? nullptr : const_cast<char*>(s.password.c_str()));
  if (!s.certfile.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, s.certfile.c_str()) != 1)
      return fail("cannot load certfile " + s.certfile);
    const std::string& key = s.keyfile.empty() ? s.certfile : s.keyfile;
    if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) return fail("cannot load keyfile " + key);
    if (SSL_CTX_check_private_key(ctx) != 1) return fail("the key does not match the certificate");
  }
  SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
  if (!s.cacertfile.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, s.cacertfile.c_str(), nullptr) != 1)
      return fail("cannot load cacertfile " + s.cacertfile);
    if (server) {
      // Tells clients which authorities we accept.
      if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.cacertfile.c_str()))
        SSL_CTX_set_client_CA_list(ctx, names);
    }
  }
  int mode = SSL_VERIFY_NONE;
  if (s.verify_peer) mode = SSL_VERIFY_PEER | (server && s.fail_if_no_peer_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
  SSL_CTX_set_verify(ctx, mode, nullptr);
  if (s.depth >= 0) SSL_CTX_set_verify_depth(ctx, s.depth);
  return ctx;
}

// Writes what OpenSSL has produced (handshake records, sealed data,
// alerts) to c's socket.
void send_ciphertext(Conn* c) {
  TlsSession& s = *c->tls;
  size_t n = BIO_ctrl_pending(s.wbio);
  if (n == 0 || c->st == St::Dead) return;
  auto* wr = new WriteReq();
  wr->owned.resize(n);
  BIO_read(s.wbio, wr->owned.data(), int(n));
  wr->bufs.push_back(uv_buf_init(reinterpret_cast<char*>(wr->owned.data()), unsigned(n)));
  if (uv_write(&wr->req, reinterpret_cast<uv_stream_t*>(&c->tcp), wr->bufs.data(), 1, on_written) != 0) {
    on_written(&wr->req, -1);
    close_conn(c, "write failed");
  }
}

// Seals plaintext into the write BIO. false when OpenSSL refuses.
bool seal(TlsSession& s, const uint8_t* p, size_t n) {
  while (n > 0) {
    int chunk = int(std::min<size_t>(n, INT_MAX));
    int w = SSL_write(s.ssl, p, chunk);
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

// A TLS failure: the reason OpenSSL gives (the certificate check's, when
// that is what failed), then the connection closes.
void tls_failed(Conn* c, const char* stage) {
  TlsSession& s = *c->tls;
  std::string why = std::string("TLS ") + stage + " failed: ";
  long vr = SSL_get_verify_result(s.ssl);
  if (vr != X509_V_OK) why += std::string("peer certificate: ") + X509_verify_cert_error_string(vr) + "; ";
  why += ssl_errors();
  if (c->initiator) c->fail_code = SNOW_ETLS;
  send_ciphertext(c);  // the alert, best effort: the close may cut it off
  close_conn(c, why.c_str());
}

// Drives the handshake, then hands the plaintext read to the framing.
void pump(Conn* c) {
  TlsSession& s = *c->tls;
  if (!s.open) {
    int r = SSL_do_handshake(s.ssl);
    if (r != 1) {
      int e = SSL_get_error(s.ssl, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return tls_failed(c, "handshake");
      send_ciphertext(c);
      return;
    }
    s.open = true;
    if (g_trace)
      log_line("snowrt: TLS %s with %s (%s)", SSL_get_version(s.ssl), c->peer.empty() ? "a peer" : c->peer.c_str(),
               SSL_get_cipher_name(s.ssl));
    bool ok = seal(s, s.pending.data(), s.pending.size());
    s.pending.clear();
    s.pending.shrink_to_fit();
    if (!ok) return tls_failed(c, "write");
  }
  send_ciphertext(c);
  for (;;) {
    if (c->st == St::Dead) return;
    int n = SSL_read(s.ssl, g_plain, sizeof g_plain);
    if (n > 0) {
      conn_feed(c, g_plain, size_t(n));
      continue;
    }
    int e = SSL_get_error(s.ssl, n);
    if (e == SSL_ERROR_WANT_READ) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      close_conn(c, "closed by peer");
      return;
    }
    return tls_failed(c, "read");
  }
  send_ciphertext(c);  // anything reading produced (a key update's answer)
}

}  // namespace

int64_t tls_start(const TlsSettings& s) {
  tls_stop();
  if (!s.enabled) return 0;
  std::string why;
  g_server = make_context(s.server, true, &why);
  if (g_server) g_client = make_context(s.client, false, &why);
  if (!g_client) {
    log_line("snowrt: TLS distribution cannot start: %s", why.c_str());
    tls_stop();
    return SNOW_ETLS;
  }
  g_client_check_host = s.client.verify_peer && s.client.check_host;
  g_on = true;
  return 0;
}

void tls_stop() {
  g_on = false;
  if (g_server) SSL_CTX_free(g_server);
  if (g_client) SSL_CTX_free(g_client);
  g_server = g_client = nullptr;
}

bool tls_on() { return g_on; }

bool tls_begin(Conn* c) {
  TlsSessionPtr s(new TlsSession());
  s->ssl = SSL_new(c->initiator ? g_client : g_server);
  BIO* rbio = BIO_new(BIO_s_mem());
  s->wbio = BIO_new(BIO_s_mem());
  if (!s->ssl || !rbio || !s->wbio) {
    BIO_free(rbio);
    BIO_free(s->wbio);
    log_line("snowrt: TLS session: %s", ssl_errors().c_str());
    c->fail_code = SNOW_ETLS;
    return false;
  }
  SSL_set_bio(s->ssl, rbio, s->wbio);
  bool named = true;
  if (c->initiator) {
    SSL_set_connect_state(s->ssl);
    in_addr ip4;
    bool literal = inet_pton(AF_INET, c->host.c_str(), &ip4) == 1;
    // SNI carries host names only (never an address literal).
    if (!literal) SSL_set_tlsext_host_name(s->ssl, c->host.c_str());
    if (g_client_check_host)
      named = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), c->host.c_str()) == 1
                      : SSL_set1_host(s->ssl, c->host.c_str()) == 1;
  } else {
    SSL_set_accept_state(s->ssl);
  }
  if (!named) {
    log_line("snowrt: TLS: cannot check the certificate of host %s: %s", c->host.c_str(), ssl_errors().c_str());
    c->fail_code = SNOW_ETLS;
    return false;
  }
  c->tls = std::move(s);
  if (c->initiator) pump(c);  // the ClientHello
  return true;
}

void tls_on_read(Conn* c, const uint8_t* bytes, size_t n) {
  if (c->st == St::Dead) return;
  TlsSession& s = *c->tls;
  // Each read is consumed whole before the next: the read BIO holds at
  // most one read and a partial record.
  if (BIO_write(SSL_get_rbio(s.ssl), bytes, int(n)) != int(n)) return tls_failed(c, "read");
  pump(c);
}

bool tls_seal(Conn* c, WriteReq* wr) {
  TlsSession& s = *c->tls;
  bool ok = true;
  for (const uv_buf_t& b : wr->bufs) {
    auto* p = reinterpret_cast<const uint8_t*>(b.base);
    if (!s.open) s.pending.insert(s.pending.end(), p, p + b.len);
    else if (!seal(s, p, b.len)) ok = false;
  }
  wr->bufs.clear();
  std::vector<uint8_t> cipher(BIO_ctrl_pending(s.wbio));
  if (!cipher.empty()) BIO_read(s.wbio, cipher.data(), int(cipher.size()));
  wr->owned.swap(cipher);
  if (!ok) {
    on_written(&wr->req, -1);
    tls_failed(c, "write");
    return false;
  }
  if (wr->owned.empty()) {
    on_written(&wr->req, 0);
    return false;
  }
  wr->bufs.push_back(uv_buf_init(reinterpret_cast<char*>(wr->owned.data()), unsigned(wr->owned.size())));
  return true;
}

}  // namespace snow::rt::dist
