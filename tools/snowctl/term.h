/* snowctl's external term format: building requests and reading replies
 * (the terms rex answers with). Only what snowctl needs: atoms, integers,
 * tuples, lists, strings, binaries, pids, references, floats and maps are
 * read; anything else is kept as an opaque term and printed as such.
 *
 * Decoding is bounded: nesting deeper than TERM_MAX_DEPTH or a count that
 * claims more elements than bytes remain fails, so a hostile reply costs
 * memory proportional to its size. */
#ifndef SNOWCTL_TERM_H
#define SNOWCTL_TERM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TERM_MAX_DEPTH 64

typedef enum {
  T_INT,
  T_BIG,
  T_FLOAT,
  T_ATOM,
  T_TUPLE,
  T_LIST,
  T_STRING,
  T_BINARY,
  T_PID,
  T_REF,
  T_MAP,
  T_OTHER
} term_type;

typedef struct term {
  term_type type;
  int64_t i;            /* T_INT */
  double f;             /* T_FLOAT */
  const uint8_t* bytes; /* T_ATOM, T_STRING, T_BINARY text; T_PID, T_REF, T_OTHER: the whole encoding */
  size_t len;           /* of bytes */
  struct term* items;   /* T_TUPLE, T_LIST elements; T_MAP keys and values, alternating */
  size_t n;             /* element count (T_MAP: 2 * pairs) */
  uint32_t pid_id, pid_serial;
  uint8_t* owned; /* the buffer the term points into, when it owns it (freed by term_free) */
} term;

/* Decodes one term (after the version byte) from p[*pos..n): 0, or -1 when
 * malformed. Free with term_free. */
int term_decode(const uint8_t* p, size_t n, size_t* pos, term* out);
void term_free(term* t);

/* Whether t is the atom `name`. */
int term_is_atom(const term* t, const char* name);
/* The element `key` of a [{Key, Value}] list, or NULL. */
const term* term_proplist_get(const term* list, const char* key);
/* Prints t in Erlang syntax. */
void term_print(FILE* f, const term* t);

/* A growing output buffer for requests. */
typedef struct {
  uint8_t* data;
  size_t len, cap;
} tbuf;

void tbuf_u8(tbuf* b, uint8_t v);
void tbuf_raw(tbuf* b, const void* p, size_t n);
void tbuf_atom(tbuf* b, const char* name);
void tbuf_tuple(tbuf* b, uint32_t arity);
void tbuf_list(tbuf* b, uint32_t n); /* n elements follow, then tbuf_nil */
void tbuf_nil(tbuf* b);
void tbuf_int(tbuf* b, int64_t v);
void tbuf_free(tbuf* b);

#endif
