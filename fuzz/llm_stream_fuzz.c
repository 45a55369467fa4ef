/* llm_stream_fuzz — libFuzzer target for what voxmesh-llm does with a
 * provider's streamed response: the SSE parser (common/sse.c), the chat
 * completions chunk reader (services/llm/chat_stream.c) and the sentence
 * splitter (services/llm/sentences.c), wired as in the daemon. Fuzz targets
 * link only libvoxmesh, so the two service modules are compiled in here.
 *
 * Checks beyond "no crash, no leak": the sentences hold exactly the
 * content's non-blank bytes, in order; each is trimmed, non-empty and at most
 * the length limit; tool calls stay within their limits, and the assistant
 * tool-call message written from them is valid JSON. */
#include "../services/llm/chat_stream.c"
#include "../services/llm/sentences.c"
#include "http_client.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SENTENCE 120

typedef struct {
    chat_stream_t *cs;
    sentences_t *sp;
    char *content, *spoken;     /* non-blank bytes of both, to compare */
    size_t clen, slen, cap;
} s_ctx_t;

static void s_nonblank(char **buf, size_t *len, size_t cap, const char *text, size_t n)
{
    for (size_t i = 0; i < n && *len < cap; i++)
        if (!s_space((unsigned char)text[i])) (*buf)[(*len)++] = text[i];
}

static void s_on_sentence(const char *text, size_t len, void *user)
{
    s_ctx_t *c = user;
    if (len == 0 || len > MAX_SENTENCE || s_space((unsigned char)text[0]) || s_space((unsigned char)text[len - 1]))
        abort();
    s_nonblank(&c->spoken, &c->slen, c->cap, text, len);
}

static void s_on_text(void *user, const char *text, size_t len)
{
    s_ctx_t *c = user;
    s_nonblank(&c->content, &c->clen, c->cap, text, len);
    sentences_push(c->sp, text, len, s_on_sentence, c);
}

static int s_on_event(const char *event, const char *data, size_t len, void *user)
{
    (void)event;
    s_ctx_t *c = user;
    char err[256];
    int rc = chat_stream_feed(c->cs, data, len, s_on_text, c, err, sizeof err);
    if (rc < 0 && !err[0]) abort();
    return rc < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_ctx_t c = { chat_stream_new(), sentences_new(MAX_SENTENCE), malloc(size + 1), malloc(size + 1), 0, 0, size + 1 };
    sse_parser_t *p = sse_parser_new(s_on_event, &c);
    /* In two pieces, as a network would deliver it. */
    size_t cut = size / 3;
    if (sse_parser_feed(p, data, cut) == 0) sse_parser_feed(p, data + cut, size - cut);
    sentences_flush(c.sp, s_on_sentence, &c);
    if (c.clen != c.slen || memcmp(c.content, c.spoken, c.clen)) abort();
    size_t n = chat_stream_tool_calls(c.cs);
    if (n > CHAT_MAX_TOOL_CALLS) abort();
    if (n) {
        for (size_t i = 0; i < n; i++)
            if (strlen(chat_stream_tool_arguments(c.cs, i)) > CHAT_MAX_ARGUMENTS) abort();
        json_buf_t b;
        json_buf_init(&b);
        chat_stream_write_tool_message(c.cs, &b);
        json_t *v = json_parse(b.data, b.len, NULL, 0);
        if (!b.oom && (!v || json_len(json_get(v, "tool_calls")) != n)) abort();
        json_destroy(&v);
        json_buf_free(&b);
    }
    sse_parser_destroy(&p);
    chat_stream_destroy(&c.cs);
    sentences_destroy(&c.sp);
    free(c.content);
    free(c.spoken);
    return 0;
}
