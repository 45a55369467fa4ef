/* json — a small JSON reader and writer for provider protocols (OpenAI
 * chat/transcription/speech, Deepgram, ElevenLabs, tool webhooks).
 *
 * Reading: json_parse() builds an immutable tree from untrusted text (depth,
 * size and number limits; strict RFC 8259; \u escapes incl. surrogate pairs
 * to UTF-8). Accessors are NULL-safe: json_get(NULL, "x") is NULL, so
 * chains like json_str(json_get(json_index(json_get(root, "choices"), 0),
 * "text")) need no checks in between.
 *
 * Writing: json_buf_t appends to a growing string; json_buf_str() escapes. */
#ifndef VOXMESH_JSON_H
#define VOXMESH_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_MAX_DEPTH 64
#define JSON_MAX_INPUT (8u << 20)
#define JSON_MAX_VALUES (1u << 20)   /* values in one document (memory bound) */

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type_t;

typedef struct json json_t;

/* Parses text[0..len) (need not be NUL-terminated). Returns the root, or NULL
 * with a message "line L col C: what" in err (may be NULL). Strict: UTF-8
 * only (no BOM), no trailing commas, comments, leading zeros, lone
 * surrogates or numbers beyond double's range. Duplicate keys are kept;
 * json_get finds the first. */
json_t *json_parse(const char *text, size_t len, char *err, size_t errlen);
/* Frees a tree returned by json_parse (a NULL or non-root node: no-op). */
void json_destroy(json_t **self_p);

json_type_t json_type(const json_t *v);            /* JSON_NULL for NULL */
const json_t *json_get(const json_t *obj, const char *key);   /* object member or NULL */
const json_t *json_index(const json_t *arr, size_t i);        /* array element or NULL */
size_t json_len(const json_t *v);                  /* array/object size, string bytes; 0 otherwise */
const char *json_key(const json_t *obj, size_t i); /* i-th member's key, or NULL */
const json_t *json_member(const json_t *obj, size_t i);
const char *json_str(const json_t *v);             /* string value (NUL-terminated UTF-8), or NULL */
double json_num(const json_t *v, double fallback);
bool json_bool(const json_t *v, bool fallback);

/* Serialises v (compact) into a malloc'd string, or NULL. */
char *json_dump(const json_t *v);

/* ---- writing ---- */
typedef struct {
    char *data;      /* NUL-terminated; owned */
    size_t len, cap;
    bool oom;        /* an allocation failed: data is incomplete */
} json_buf_t;

void json_buf_init(json_buf_t *b);
void json_buf_free(json_buf_t *b);
void json_buf_raw(json_buf_t *b, const char *text);                 /* appended as is */
void json_buf_printf(json_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void json_buf_str(json_buf_t *b, const char *s);                    /* "escaped", NULL -> null */
void json_buf_strn(json_buf_t *b, const char *s, size_t n);  /* invalid UTF-8 -> U+FFFD */
void json_buf_num(json_buf_t *b, double d);                 /* shortest exact form; NaN/inf -> null */
void json_buf_value(json_buf_t *b, const json_t *v);        /* a parsed value, compact */

#endif
