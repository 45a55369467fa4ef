/* chat_stream — see chat_stream.h. */
#include "chat_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_MAX_NAME 128

typedef struct {
    json_buf_t id, name, args;
    bool used;
    bool made_up_id;            /* the server sent none (yet): "call_N" */
} s_call_t;

struct chat_stream {
    s_call_t calls[CHAT_MAX_TOOL_CALLS];
    size_t ncalls;              /* highest index used + 1 */
    char finish[32];
    bool done;
    size_t content;
};

chat_stream_t *chat_stream_new(void)
{
    chat_stream_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    for (size_t i = 0; i < CHAT_MAX_TOOL_CALLS; i++) {
        json_buf_init(&s->calls[i].id);
        json_buf_init(&s->calls[i].name);
        json_buf_init(&s->calls[i].args);
    }
    return s;
}

void chat_stream_destroy(chat_stream_t **self_p)
{
    if (!self_p || !*self_p) return;
    chat_stream_t *s = *self_p;
    for (size_t i = 0; i < CHAT_MAX_TOOL_CALLS; i++) {
        json_buf_free(&s->calls[i].id);
        json_buf_free(&s->calls[i].name);
        json_buf_free(&s->calls[i].args);
    }
    free(s);
    *self_p = NULL;
}

static void s_clear(json_buf_t *b)
{
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

void chat_stream_reset(chat_stream_t *s)
{
    for (size_t i = 0; i < CHAT_MAX_TOOL_CALLS; i++) {
        s_clear(&s->calls[i].id);
        s_clear(&s->calls[i].name);
        s_clear(&s->calls[i].args);
        s->calls[i].used = false;
        s->calls[i].made_up_id = false;
    }
    s->ncalls = 0;
    s->finish[0] = 0;
    s->done = false;
    s->content = 0;
}

/* Appends a string value as is (up to a \u0000, which no valid tool call
 * argument holds). */
static void s_append(json_buf_t *b, const json_t *v)
{
    if (json_str(v)) json_buf_printf(b, "%s", json_str(v));
}

static int s_tool_delta(chat_stream_t *s, const json_t *calls, char *err, size_t errlen)
{
    for (size_t k = 0; k < json_len(calls); k++) {
        const json_t *c = json_index(calls, k);
        double idx = json_num(json_get(c, "index"), (double)k);
        if (idx < 0 || idx >= CHAT_MAX_TOOL_CALLS || idx != (double)(size_t)idx) {
            snprintf(err, errlen, "tool call index %g out of range (at most %d calls)", idx, CHAT_MAX_TOOL_CALLS);
            return -1;
        }
        s_call_t *call = &s->calls[(size_t)idx];
        if ((size_t)idx + 1 > s->ncalls) s->ncalls = (size_t)idx + 1;
        const json_t *fn = json_get(c, "function");
        /* Most servers send id and name once; some repeat them in every
         * chunk, some stream the name in pieces: append unless repeated. */
        const char *id = json_str(json_get(c, "id"));
        if (id && *id && call->made_up_id) {
            s_clear(&call->id);
            call->made_up_id = false;
        }
        if (id && strcmp(call->id.data, id)) s_append(&call->id, json_get(c, "id"));
        if (!call->used && !call->id.len) {
            json_buf_printf(&call->id, "call_%zu", (size_t)idx);
            call->made_up_id = true;
        }
        call->used = true;
        const char *name = json_str(json_get(fn, "name"));
        if (name && strcmp(call->name.data, name)) s_append(&call->name, json_get(fn, "name"));
        s_append(&call->args, json_get(fn, "arguments"));
        if (call->id.len > CHAT_MAX_NAME || call->name.len > CHAT_MAX_NAME || call->args.len > CHAT_MAX_ARGUMENTS
            || call->id.oom || call->name.oom || call->args.oom) {
            snprintf(err, errlen, "tool call %zu too large", (size_t)idx);
            return -1;
        }
    }
    return 0;
}

int chat_stream_feed(chat_stream_t *s, const char *data, size_t len, chat_text_fn *fn, void *user,
                     char *err, size_t errlen)
{
    if (s->done) return 1;
    while (len && (data[len - 1] == ' ' || data[len - 1] == '\r')) len--;
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        s->done = true;
        return 1;
    }
    char jerr[128];
    json_t *v = json_parse(data, len, jerr, sizeof jerr);
    if (!v) {
        snprintf(err, errlen, "malformed JSON in the stream: %s", jerr);
        return -1;
    }
    int rc = 0;
    const json_t *e = json_get(v, "error");
    if (e) {
        const char *msg = json_str(json_get(e, "message"));
        snprintf(err, errlen, "provider error: %s", msg ? msg : json_str(e) ? json_str(e) : "(no message)");
        rc = -1;
        goto out;
    }
    if (json_type(v) != JSON_OBJECT) {
        snprintf(err, errlen, "a chunk that is not a JSON object");
        rc = -1;
        goto out;
    }
    const json_t *choice = json_index(json_get(v, "choices"), 0);
    const json_t *delta = json_get(choice, "delta");
    const json_t *content = json_get(delta, "content");
    if (json_str(content) && json_len(content)) {
        s->content += json_len(content);
        fn(user, json_str(content), json_len(content));
    }
    const json_t *calls = json_get(delta, "tool_calls");
    if (json_type(calls) == JSON_ARRAY && s_tool_delta(s, calls, err, errlen) < 0) {
        rc = -1;
        goto out;
    }
    const char *finish = json_str(json_get(choice, "finish_reason"));
    if (finish) snprintf(s->finish, sizeof s->finish, "%s", finish);
out:
    json_destroy(&v);
    return rc;
}

bool chat_stream_done(const chat_stream_t *s) { return s->done; }
const char *chat_stream_finish_reason(const chat_stream_t *s) { return s->finish; }
size_t chat_stream_content_bytes(const chat_stream_t *s) { return s->content; }

/* Calls are numbered by their index; an index never sent leaves a gap,
 * which is not a call. */
size_t chat_stream_tool_calls(const chat_stream_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->ncalls; i++)
        if (s->calls[i].used) n++;
    return n;
}

static const s_call_t *s_call(const chat_stream_t *s, size_t i)
{
    for (size_t k = 0; k < s->ncalls; k++)
        if (s->calls[k].used && i-- == 0) return &s->calls[k];
    return NULL;
}

const char *chat_stream_tool_id(const chat_stream_t *s, size_t i)
{
    const s_call_t *c = s_call(s, i);
    return c ? c->id.data : NULL;
}

const char *chat_stream_tool_name(const chat_stream_t *s, size_t i)
{
    const s_call_t *c = s_call(s, i);
    return c ? c->name.data : NULL;
}

const char *chat_stream_tool_arguments(const chat_stream_t *s, size_t i)
{
    const s_call_t *c = s_call(s, i);
    return c ? c->args.data : NULL;
}

void chat_stream_write_tool_message(const chat_stream_t *s, json_buf_t *out)
{
    json_buf_raw(out, "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[");
    for (size_t i = 0; i < chat_stream_tool_calls(s); i++) {
        if (i) json_buf_raw(out, ",");
        json_buf_raw(out, "{\"id\":");
        json_buf_str(out, chat_stream_tool_id(s, i));
        json_buf_raw(out, ",\"type\":\"function\",\"function\":{\"name\":");
        json_buf_str(out, chat_stream_tool_name(s, i));
        json_buf_raw(out, ",\"arguments\":");
        json_buf_str(out, chat_stream_tool_arguments(s, i));
        json_buf_raw(out, "}}");
    }
    json_buf_raw(out, "]}");
}
