/* http_client — asynchronous HTTP requests on a service's loop (libcurl's
 * multi interface driven by service_watch_fd/service_after: no threads, no
 * polling tick), for the cloud providers of STT, LLM and TTS.
 *
 * Every request has a deadline for the first byte and one for the whole
 * transfer; a stuck provider never blocks the loop or another request. The
 * response body streams to on_data as it arrives (server-sent events, PCM).
 * http_request_cancel() aborts a transfer at once (a turn interrupt): no
 * more callbacks for it, the connection is closed, not drained.
 *
 * Secrets: header values are never logged (Authorization, xi-api-key, ...);
 * log lines name the method, the URL without its query, the status and the
 * request's label (the session id). */
#ifndef VOXMESH_HTTP_CLIENT_H
#define VOXMESH_HTTP_CLIENT_H

#include "service.h"

#include <stddef.h>
#include <stdint.h>

typedef struct http_client http_client_t;
typedef struct http_request http_request_t;

/* Requests in flight per client; http_request_start refuses more. */
#define HTTP_CLIENT_MAX_REQUESTS 1024

/* What went wrong, for on_done (http_request_error): retry decisions need
 * to tell "never reached the server" from "it stopped talking". */
typedef enum {
    HTTP_ERR_NONE,         /* complete (any status) */
    HTTP_ERR_CONNECT,      /* no response at all: refused, DNS, closed before the status */
    HTTP_ERR_FIRST_BYTE,   /* first-byte deadline */
    HTTP_ERR_TIMEOUT,      /* total deadline */
    HTTP_ERR_CLOSED,       /* connection closed mid-body */
    HTTP_ERR_ABORTED,      /* on_status or on_data returned -1 */
    HTTP_ERR_OTHER
} http_error_t;

/* One multipart/form-data part (OpenAI transcriptions). */
typedef struct {
    const char *name;
    const char *filename;        /* NULL: a plain field */
    const char *content_type;    /* NULL: none */
    const void *data;
    size_t len;
} http_part_t;

typedef struct {
    const char *method;          /* "GET", "POST" (default when body or parts are set) */
    const char *url;
    const char *const *headers;  /* "Name: value" strings, NULL-terminated; may be NULL */
    const void *body;            /* request body (copied), or NULL */
    size_t body_len;
    const http_part_t *parts;    /* multipart form (copied), or NULL */
    size_t nparts;
    int first_byte_ms;           /* deadline for the response headers; 0 = 10000 */
    int total_ms;                /* deadline for the whole transfer; 0 = 60000 */
    const char *label;           /* for log lines: session id */
    /* Response headers are complete: status (e.g. 200, 429) and the
     * Content-Type (may be NULL). Return 0 to go on, -1 to abort. */
    int (*on_status)(http_request_t *r, long status, const char *content_type, void *user);
    /* A piece of the body, as it arrives. Return 0 to go on, -1 to abort. */
    int (*on_data)(http_request_t *r, const uint8_t *data, size_t len, void *user);
    /* The end, exactly once unless cancelled: error NULL on success (the
     * status was reported before), else why ("timeout: no response within
     * 10000 ms", "connection closed mid-body", curl's message). After it
     * returns the request is freed. */
    void (*on_done)(http_request_t *r, long status, const char *error, void *user);
    void *user;
} http_request_config_t;

/* One client per service; requires the service's loop (service_run). */
http_client_t *http_client_new(service_t *svc);
/* Cancels what is in flight (no callbacks). Call it outside the loop or from
 * a bus handler, never from one of its own requests' callbacks. */
void http_client_destroy(http_client_t **self_p);

/* Starts a request. Returns it (owned by the client until on_done or
 * cancel), or NULL on a bad config (logged). */
http_request_t *http_request_start(http_client_t *c, const http_request_config_t *cfg);

/* Aborts a request in flight; no callback runs after this returns. Safe
 * from any callback, also the request's own (its handle is removed from
 * curl on the loop's next turn, where curl allows it). */
void http_request_cancel(http_request_t *r);

/* In on_done: the kind of failure (HTTP_ERR_NONE on success). */
http_error_t http_request_error(const http_request_t *r);

/* Requests in flight (for metrics and tests). */
size_t http_client_active(const http_client_t *c);

/* ---- server-sent events (text/event-stream) ----
 * A push parser: feed body pieces of any size; on_event gets each complete
 * event's `data:` (lines joined with '\n') and its `event:` name ("" when
 * none). Limits the size of one event (1 MiB): a longer one is an error. */
typedef struct sse_parser sse_parser_t;
typedef int (sse_event_fn)(const char *event, const char *data, size_t len, void *user);
sse_parser_t *sse_parser_new(sse_event_fn *fn, void *user);
void sse_parser_destroy(sse_parser_t **self_p);
/* Returns 0, -1 when on_event returned -1, -2 on an oversized event. */
int sse_parser_feed(sse_parser_t *p, const uint8_t *data, size_t len);

#endif
