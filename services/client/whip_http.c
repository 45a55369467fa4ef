/* whip_http — see whip_http.h. */
#include "whip_http.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

void whip_response_clear(whip_response_t *r)
{
    free(r->body);
    free(r->location);
    free(r->etag);
    free(r->content_type);
    memset(r, 0, sizeof *r);
}

static size_t s_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    whip_response_t *r = arg;
    size_t n = size * nmemb;
    if (r->body_len + n > WHIP_HTTP_MAX_BODY)
        return 0;   /* aborts the transfer: CURLE_WRITE_ERROR */
    char *b = realloc(r->body, r->body_len + n + 1);
    if (!b)
        return 0;
    memcpy(b + r->body_len, data, n);
    r->body = b;
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

/* Stores the value of "Name: value\r\n" when the line has that name. */
static void s_header_value(const char *line, size_t len, const char *name, char **out)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && isspace((unsigned char)end[-1])) end--;
    free(*out);
    *out = strndup(v, (size_t)(end - v));
}

static size_t s_on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    whip_response_t *r = arg;
    size_t n = size * nmemb;
    if (n >= 5 && !strncmp(data, "HTTP/", 5)) {
        /* a new response (after a 100 Continue): forget the previous headers */
        free(r->location);
        free(r->etag);
        free(r->content_type);
        r->location = r->etag = r->content_type = NULL;
    }
    s_header_value(data, n, "Location", &r->location);
    s_header_value(data, n, "ETag", &r->etag);
    s_header_value(data, n, "Content-Type", &r->content_type);
    return n;
}

static int s_perform(const char *method, const char *url, const char *token, const char *body,
                     const char *ctype, long timeout_ms, whip_response_t *r,
                     char *err, size_t err_size)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, err_size, "curl_easy_init failed");
        return -1;
    }
    struct curl_slist *hdrs = NULL;
    char line[1024];
    if (ctype) {
        snprintf(line, sizeof line, "Content-Type: %s", ctype);
        hdrs = curl_slist_append(hdrs, line);
        hdrs = curl_slist_append(hdrs, "Accept: application/sdp");
    }
    if (token && *token) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, line);
    }
    /* no "Expect: 100-continue" round trip before the body */
    hdrs = curl_slist_append(hdrs, "Expect:");
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "voxmesh-client");
    CURLcode rc = curl_easy_perform(c);
    int ret = 0;
    if (rc != CURLE_OK) {
        snprintf(err, err_size, "%s %s: %s", method, url, *errbuf ? errbuf : curl_easy_strerror(rc));
        ret = -1;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        if (!r->body) {
            r->body = calloc(1, 1);
            if (!r->body) {
                snprintf(err, err_size, "out of memory");
                ret = -1;
            }
        }
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (ret < 0)
        whip_response_clear(r);
    return ret;
}

int whip_http_post(const char *url, const char *token, const char *sdp, long timeout_ms,
                   whip_response_t *r, char *err, size_t err_size)
{
    return s_perform("POST", url, token, sdp, "application/sdp", timeout_ms, r, err, err_size);
}

int whip_http_delete(const char *url, const char *token, long timeout_ms,
                     whip_response_t *r, char *err, size_t err_size)
{
    return s_perform("DELETE", url, token, NULL, NULL, timeout_ms, r, err, err_size);
}

/* ws(s)://... as http(s)://... (libcurl may not know the ws schemes);
 * returns a malloc'd copy either way. */
static char *s_httpify(const char *url)
{
    bool ws = !strncasecmp(url, "ws://", 5), wss = !strncasecmp(url, "wss://", 6);
    char *out = malloc(strlen(url) + 3);
    if (out)
        sprintf(out, "%s%s", ws ? "http" : wss ? "https" : "", url + (ws ? 2 : wss ? 3 : 0));
    return out;
}

char *whip_url_endpoint(const char *base, const char *path, int ws)
{
    CURLU *u = curl_url();
    char *out = NULL, *p = NULL, *scheme = NULL;
    char *http = s_httpify(base);
    if (!u || !http || curl_url_set(u, CURLUPART_URL, http, 0) != CURLUE_OK)
        goto done;
    if (curl_url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK || !p || !strcmp(p, "/") || !*p)
        curl_url_set(u, CURLUPART_PATH, path, 0);
    if (ws && curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK) {
        bool tls = !strcasecmp(scheme, "https") || !strcasecmp(scheme, "wss");
        /* ws is not a scheme this libcurl may know: build the string */
        char *tmp = NULL;
        curl_url_set(u, CURLUPART_SCHEME, tls ? "https" : "http", 0);
        if (curl_url_get(u, CURLUPART_URL, &tmp, 0) == CURLUE_OK) {
            out = malloc(strlen(tmp) + 2);
            if (out)
                sprintf(out, "%s%s", tls ? "wss" : "ws", strchr(tmp, ':'));
            curl_free(tmp);
        }
        goto done;
    }
    char *tmp = NULL;
    if (curl_url_get(u, CURLUPART_URL, &tmp, 0) == CURLUE_OK) {
        out = strdup(tmp);
        curl_free(tmp);
    }
done:
    free(http);
    curl_free(p);
    curl_free(scheme);
    curl_url_cleanup(u);
    return out;
}

char *whip_url_resolve(const char *request_url, const char *location)
{
    CURLU *u = curl_url();
    char *out = NULL, *tmp = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, request_url, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_URL, &tmp, 0) == CURLUE_OK)
        out = strdup(tmp);
    curl_free(tmp);
    curl_url_cleanup(u);
    return out;
}

int whip_url_split(const char *url, char **host, int *port, char **path, int *tls)
{
    /* parse as http(s) so that libcurl knows the default port */
    char *copy = s_httpify(url);
    if (!copy)
        return -1;
    url = copy;
    CURLU *u = curl_url();
    char *h = NULL, *p = NULL, *q = NULL, *s = NULL, *po = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_PORT, &po, CURLU_DEFAULT_PORT) == CURLUE_OK
        && curl_url_get(u, CURLUPART_PATH, &p, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_SCHEME, &s, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_QUERY, &q, 0);
        /* an IPv6 literal comes back in brackets */
        size_t hl = strlen(h);
        if (hl > 2 && h[0] == '[' && h[hl - 1] == ']')
            *host = strndup(h + 1, hl - 2);
        else
            *host = strdup(h);
        *path = malloc(strlen(p) + (q ? strlen(q) + 1 : 0) + 1);
        if (*path)
            sprintf(*path, "%s%s%s", p, q ? "?" : "", q ? q : "");
        *port = atoi(po);
        *tls = !strcasecmp(s, "https");
        rc = *host && *path ? 0 : -1;
        if (rc < 0) {
            free(*host);
            free(*path);
            *host = *path = NULL;
        }
    }
    curl_free(h);
    curl_free(p);
    curl_free(q);
    curl_free(s);
    curl_free(po);
    curl_url_cleanup(u);
    free(copy);
    return rc;
}

void whip_body_reason(const whip_response_t *r, char *out, size_t size)
{
    const char *b = r->body ? r->body : "";
    while (*b && isspace((unsigned char)*b)) b++;
    size_t n = strcspn(b, "\r\n");
    if (n > 200)
        n = 200;
    if (n >= size)
        n = size - 1;
    memcpy(out, b, n);
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            out[i] = '?';
}
