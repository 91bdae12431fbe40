/* snowctl's external term format (term.h). */
#include "term.h"

#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t* p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint16_t be16(const uint8_t* p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Reads an atom (any of its encodings) at p[*pos]; the text into out. */
static int decode_atom(const uint8_t* p, size_t n, size_t* pos, term* out) {
  if (*pos >= n) return -1;
  uint8_t tag = p[*pos];
  size_t len, head;
  if (tag == 100 || tag == 118) { /* ATOM_EXT, ATOM_UTF8_EXT */
    if (n - *pos < 3) return -1;
    len = be16(p + *pos + 1);
    head = 3;
  } else if (tag == 115 || tag == 119) { /* SMALL_ATOM_EXT, SMALL_ATOM_UTF8_EXT */
    if (n - *pos < 2) return -1;
    len = p[*pos + 1];
    head = 2;
  } else {
    return -1;
  }
  if (n - *pos - head < len) return -1;
  out->type = T_ATOM;
  out->bytes = p + *pos + head;
  out->len = len;
  *pos += head + len;
  return 0;
}

static int decode_at(const uint8_t* p, size_t n, size_t* pos, term* out, int depth);

/* count elements (count * per of them for maps) that each take a byte at
 * least: a count beyond the bytes left is malformed, not an allocation. */
static int decode_items(const uint8_t* p, size_t n, size_t* pos, term* out, size_t count, int depth) {
  if (count > n - *pos) return -1;
  out->n = count;
  out->items = count ? calloc(count, sizeof(term)) : NULL;
  if (count && !out->items) return -1;
  for (size_t i = 0; i < count; i++)
    if (decode_at(p, n, pos, &out->items[i], depth + 1) != 0) return -1;
  return 0;
}

static int decode_at(const uint8_t* p, size_t n, size_t* pos, term* out, int depth) {
  memset(out, 0, sizeof *out);
  if (depth > TERM_MAX_DEPTH || *pos >= n) return -1;
  size_t start = *pos;
  size_t left = n - *pos;
  uint8_t tag = p[*pos];
  switch (tag) {
    case 97: /* SMALL_INTEGER_EXT */
      if (left < 2) return -1;
      out->type = T_INT;
      out->i = p[*pos + 1];
      *pos += 2;
      return 0;
    case 98: /* INTEGER_EXT */
      if (left < 5) return -1;
      out->type = T_INT;
      out->i = (int32_t)be32(p + *pos + 1);
      *pos += 5;
      return 0;
    case 110:   /* SMALL_BIG_EXT */
    case 111: { /* LARGE_BIG_EXT */
      size_t head = tag == 110 ? 3 : 6;
      if (left < head) return -1;
      size_t digits = tag == 110 ? p[*pos + 1] : be32(p + *pos + 1);
      if (left - head < digits) return -1;
      int sign = p[*pos + head - 1];
      if (digits <= 8) {
        uint64_t v = 0;
        for (size_t i = digits; i > 0; i--) v = v << 8 | p[*pos + head + i - 1];
        if (v <= (uint64_t)INT64_MAX) {
          out->type = T_INT;
          out->i = sign ? -(int64_t)v : (int64_t)v;
          *pos += head + digits;
          return 0;
        }
      }
      out->type = T_BIG;
      *pos += head + digits;
      out->bytes = p + start;
      out->len = *pos - start;
      return 0;
    }
    case 70: { /* NEW_FLOAT_EXT */
      if (left < 9) return -1;
      uint64_t bits = 0;
      for (int i = 0; i < 8; i++) bits = bits << 8 | p[*pos + 1 + i];
      out->type = T_FLOAT;
      memcpy(&out->f, &bits, sizeof out->f);
      *pos += 9;
      return 0;
    }
    case 100:
    case 118:
    case 115:
    case 119:
      return decode_atom(p, n, pos, out);
    case 104: /* SMALL_TUPLE_EXT */
      if (left < 2) return -1;
      out->type = T_TUPLE;
      *pos += 2;
      return decode_items(p, n, pos, out, p[start + 1], depth);
    case 105: /* LARGE_TUPLE_EXT */
      if (left < 5) return -1;
      out->type = T_TUPLE;
      *pos += 5;
      return decode_items(p, n, pos, out, be32(p + start + 1), depth);
    case 106: /* NIL_EXT */
      out->type = T_LIST;
      *pos += 1;
      return 0;
    case 107: /* STRING_EXT */
      if (left < 3 || left - 3 < be16(p + *pos + 1)) return -1;
      out->type = T_STRING;
      out->len = be16(p + *pos + 1);
      out->bytes = p + *pos + 3;
      *pos += 3 + out->len;
      return 0;
    case 108: { /* LIST_EXT: elements, then a tail (read and dropped: improper lists print as proper) */
      if (left < 5) return -1;
      out->type = T_LIST;
      *pos += 5;
      if (decode_items(p, n, pos, out, be32(p + start + 1), depth) != 0) return -1;
      term tail;
      int r = decode_at(p, n, pos, &tail, depth + 1);
      term_free(&tail);
      return r;
    }
    case 109: /* BINARY_EXT */
      if (left < 5 || left - 5 < be32(p + *pos + 1)) return -1;
      out->type = T_BINARY;
      out->len = be32(p + *pos + 1);
      out->bytes = p + *pos + 5;
      *pos += 5 + out->len;
      return 0;
    case 88:    /* NEW_PID_EXT */
    case 103: { /* PID_EXT */
      *pos += 1;
      term node;
      if (decode_atom(p, n, pos, &node) != 0) return -1;
      size_t rest = tag == 88 ? 12 : 9;
      if (n - *pos < rest) return -1;
      out->type = T_PID;
      out->pid_id = be32(p + *pos);
      out->pid_serial = be32(p + *pos + 4);
      *pos += rest;
      out->bytes = p + start;
      out->len = *pos - start;
      return 0;
    }
    case 90: { /* NEWER_REFERENCE_EXT */
      if (left < 3) return -1;
      size_t words = be16(p + *pos + 1);
      *pos += 3;
      term node;
      if (words > 5 || decode_atom(p, n, pos, &node) != 0 || n - *pos < 4 + 4 * words) return -1;
      *pos += 4 + 4 * words;
      out->type = T_REF;
      out->bytes = p + start;
      out->len = *pos - start;
      return 0;
    }
    case 116: /* MAP_EXT */
      if (left < 5) return -1;
      out->type = T_MAP;
      *pos += 5;
      if (be32(p + start + 1) > (n - *pos) / 2) return -1;
      return decode_items(p, n, pos, out, (size_t)be32(p + start + 1) * 2, depth);
    default:
      return -1; /* funs, ports and old encodings: rex never answers with them */
  }
}

int term_decode(const uint8_t* p, size_t n, size_t* pos, term* out) {
  if (decode_at(p, n, pos, out, 0) == 0) return 0;
  term_free(out);
  return -1;
}

void term_free(term* t) {
  if (t->items) {
    for (size_t i = 0; i < t->n; i++) term_free(&t->items[i]);
    free(t->items);
  }
  t->items = NULL;
  t->n = 0;
  free(t->owned);
  t->owned = NULL;
}

int term_is_atom(const term* t, const char* name) {
  return t && t->type == T_ATOM && t->len == strlen(name) && memcmp(t->bytes, name, t->len) == 0;
}

const term* term_proplist_get(const term* list, const char* key) {
  if (!list || list->type != T_LIST) return NULL;
  for (size_t i = 0; i < list->n; i++) {
    const term* e = &list->items[i];
    if (e->type == T_TUPLE && e->n == 2 && term_is_atom(&e->items[0], key)) return &e->items[1];
  }
  return NULL;
}

static int atom_needs_quotes(const term* t) {
  if (t->len == 0 || t->bytes[0] < 'a' || t->bytes[0] > 'z') return 1;
  for (size_t i = 0; i < t->len; i++) {
    uint8_t c = t->bytes[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '@')) return 1;
  }
  return 0;
}

static void print_items(FILE* f, const term* t, const char* open, const char* close) {
  fputs(open, f);
  for (size_t i = 0; i < t->n; i++) {
    if (i) fputc(',', f);
    term_print(f, &t->items[i]);
  }
  fputs(close, f);
}

void term_print(FILE* f, const term* t) {
  switch (t->type) {
    case T_INT:
      fprintf(f, "%lld", (long long)t->i);
      break;
    case T_FLOAT:
      fprintf(f, "%g", t->f);
      break;
    case T_ATOM:
      if (atom_needs_quotes(t)) fprintf(f, "'%.*s'", (int)t->len, (const char*)t->bytes);
      else fprintf(f, "%.*s", (int)t->len, (const char*)t->bytes);
      break;
    case T_TUPLE:
      print_items(f, t, "{", "}");
      break;
    case T_LIST:
      print_items(f, t, "[", "]");
      break;
    case T_STRING:
      fprintf(f, "\"%.*s\"", (int)t->len, (const char*)t->bytes);
      break;
    case T_BINARY:
      fprintf(f, "<<\"%.*s\">>", (int)t->len, (const char*)t->bytes);
      break;
    case T_PID:
      fprintf(f, "<0.%u.%u>", t->pid_id, t->pid_serial);
      break;
    case T_MAP:
      fputs("#{", f);
      for (size_t i = 0; i + 1 < t->n; i += 2) {
        if (i) fputc(',', f);
        term_print(f, &t->items[i]);
        fputs(" => ", f);
        term_print(f, &t->items[i + 1]);
      }
      fputc('}', f);
      break;
    case T_BIG:
      fputs("#Big", f);
      break;
    case T_REF:
      fputs("#Ref", f);
      break;
    default:
      fputs("#Term", f);
  }
}

/* ------------------------------------------------------------------ tbuf */

void tbuf_raw(tbuf* b, const void* p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n) cap *= 2;
    uint8_t* d = realloc(b->data, cap);
    if (!d) {
      fputs("snowctl: out of memory\n", stderr);
      exit(1);
    }
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

void tbuf_u8(tbuf* b, uint8_t v) { tbuf_raw(b, &v, 1); }

static void tbuf_be32(tbuf* b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  tbuf_raw(b, x, 4);
}

void tbuf_atom(tbuf* b, const char* name) {
  size_t n = strlen(name);
  if (n > 255) n = 255;
  tbuf_u8(b, 119); /* SMALL_ATOM_UTF8_EXT */
  tbuf_u8(b, (uint8_t)n);
  tbuf_raw(b, name, n);
}

void tbuf_tuple(tbuf* b, uint32_t arity) {
  if (arity < 256) {
    tbuf_u8(b, 104);
    tbuf_u8(b, (uint8_t)arity);
  } else {
    tbuf_u8(b, 105);
    tbuf_be32(b, arity);
  }
}

void tbuf_list(tbuf* b, uint32_t n) {
  tbuf_u8(b, 108);
  tbuf_be32(b, n);
}

void tbuf_nil(tbuf* b) { tbuf_u8(b, 106); }

void tbuf_int(tbuf* b, int64_t v) {
  if (v >= INT32_MIN && v <= INT32_MAX) {
    tbuf_u8(b, 98);
    tbuf_be32(b, (uint32_t)(int32_t)v);
    return;
  }
  uint64_t m = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
  tbuf_u8(b, 110);
  tbuf_u8(b, 8);
  tbuf_u8(b, v < 0 ? 1 : 0);
  for (int i = 0; i < 8; i++) tbuf_u8(b, (uint8_t)(m >> (8 * i)));
}

void tbuf_free(tbuf* b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
