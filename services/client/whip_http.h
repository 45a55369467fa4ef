/* whip_http — the HTTP side of a WHIP client (RFC 9725) with libcurl:
 * POST the offer, DELETE the resource, and the URL arithmetic between the
 * edge's base URL, its /whip endpoint and a relative Location. Blocking
 * calls, each bounded by a timeout. */
#ifndef VOXMESH_CLIENT_WHIP_HTTP_H
#define VOXMESH_CLIENT_WHIP_HTTP_H

#include <stddef.h>

/* Largest response body kept (an answer SDP is a few KB). */
#define WHIP_HTTP_MAX_BODY (256 * 1024)

typedef struct {
    long status;                /* 0 when no response came */
    char *body;                 /* NUL-terminated, may be "" */
    size_t body_len;
    char *location;             /* Location header as sent, NULL if none */
    char *etag;
    char *content_type;
} whip_response_t;

/* Frees the strings of a response and zeroes it. */
void whip_response_clear(whip_response_t *r);

/* POSTs `sdp` as application/sdp to `url` with an optional bearer token.
 * Returns 0 when a response came (any status, see r->status), or -1 with a
 * transport error in err (connection refused, timeout...). */
int whip_http_post(const char *url, const char *token, const char *sdp, long timeout_ms,
                   whip_response_t *r, char *err, size_t err_size);

/* DELETEs `url`. Same returns as whip_http_post(). */
int whip_http_delete(const char *url, const char *token, long timeout_ms,
                     whip_response_t *r, char *err, size_t err_size);

/* `base` with its path replaced by `path` when it has none (or just "/"):
 * "http://h:8080" + "/whip" -> "http://h:8080/whip". A base that already has
 * a path is kept. With `ws` the scheme becomes ws:// (wss:// for https).
 * Returns a malloc'd string, or NULL for a URL that does not parse. */
char *whip_url_endpoint(const char *base, const char *path, int ws);

/* Resolves a (possibly relative) Location against the request URL.
 * Returns a malloc'd string or NULL. */
char *whip_url_resolve(const char *request_url, const char *location);

/* Splits an http(s)/ws(s) URL into host, port and path+query (malloc'd).
 * Returns 0 or -1. */
int whip_url_split(const char *url, char **host, int *port, char **path, int *tls);

/* The first line of a response body, trimmed and cut at 200 characters,
 * for "edge refused the offer: 400 <reason>". */
void whip_body_reason(const whip_response_t *r, char *out, size_t size);

#endif
