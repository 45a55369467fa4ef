/* sse_fuzz — libFuzzer target for the server-sent events parser
 * (common/sse.c), which reads every streamed provider response.
 *
 * Beyond "no crash, no leak", it checks the parser's promises: each event's
 * data is terminated at its stated length and within the 1 MiB limit; and
 * feeding the input in two pieces, split where the first byte says, gives
 * exactly the events of feeding it whole. */
#include "http_client.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t hash;
    size_t events;
} s_acc_t;

static int s_on_event(const char *event, const char *data, size_t len, void *user)
{
    s_acc_t *a = user;
    if (!event || !data || data[len] != 0 || len > (1u << 20)) abort();
    /* FNV-1a over name, a separator and data: equal streams, equal hashes. */
    uint64_t h = a->hash ^ 0x9e3779b97f4a7c15ull;
    for (const char *p = event; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)data[i]) * 0x100000001b3ull;
    a->hash = h;
    a->events++;
    return 0;
}

static int s_feed(const uint8_t *data, size_t size, size_t cut, s_acc_t *a)
{
    sse_parser_t *p = sse_parser_new(s_on_event, a);
    if (!p) abort();
    int rc = sse_parser_feed(p, data, cut);
    int rc2 = sse_parser_feed(p, data + cut, size - cut);
    sse_parser_destroy(&p);
    return rc ? rc : rc2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t cut = size > 1 ? data[0] % size : 0;
    data++;
    size--;
    if (cut > size) cut = size;
    s_acc_t whole = { 0, 0 }, split = { 0, 0 };
    int rc1 = s_feed(data, size, size, &whole);
    int rc2 = s_feed(data, size, cut, &split);
    if (rc1 != rc2) abort();
    if (rc1 == 0 && (whole.hash != split.hash || whole.events != split.events)) abort();
    return 0;
}
