/* tools_test — the tools file: valid tools become the request's "tools"
 * value and their webhooks are found by name; every bad tool is refused
 * naming the file and the tool. */
#include "tools.h"
#include "test.h"

#include <string.h>

static tools_t *s_parse(const char *text, char *err, size_t errlen)
{
    return tools_parse(text, strlen(text), "t.json", err, errlen);
}

int main(void)
{
    char err[256] = "";
    tools_t *t = s_parse("[{\"name\":\"get_weather\",\"description\":\"Weather now\",\"url\":\"http://127.0.0.1:9/w\","
                         "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}},"
                         " {\"name\":\"ping\",\"url\":\"https://example.invalid/p\"}]", err, sizeof err);
    CHECK(t && tools_count(t) == 2, "two tools %s", err);
    CHECK(!strcmp(tools_url(t, "get_weather"), "http://127.0.0.1:9/w") && tools_url(t, "nope") == NULL, "webhooks by name");
    json_buf_t b;
    json_buf_init(&b);
    tools_write(t, &b);
    json_t *v = json_parse(b.data, b.len, NULL, 0);
    const json_t *f0 = json_get(json_index(v, 0), "function"), *f1 = json_get(json_index(v, 1), "function");
    CHECK(v && json_len(v) == 2 && !strcmp(json_str(json_get(json_index(v, 0), "type")), "function")
          && !strcmp(json_str(json_get(f0, "name")), "get_weather")
          && !strcmp(json_str(json_index(json_get(json_get(f0, "parameters"), "required"), 0)), "city"),
          "the request's tools: function entries with their schema");
    CHECK(!strcmp(json_str(json_get(json_get(f1, "parameters"), "type")), "object") && !json_get(json_index(v, 1), "url"),
          "a tool without parameters gets an empty object schema; the url is not sent to the model");
    json_destroy(&v);
    json_buf_free(&b);
    tools_destroy(&t);
    CHECK(t == NULL, "destroy sets NULL");

    struct { const char *text, *want; } bad[] = {
        { "{\"name\":\"x\"}", "t.json: not a JSON array" },
        { "[1,", "t.json: line 1 col 4" },
        { "[{\"name\":\"a b\",\"url\":\"http://x/\"}]", "t.json: tool 1: \"name\"" },
        { "[{\"name\":\"a\",\"url\":\"http://x/\"},{\"name\":\"b\"}]", "t.json: tool 2: \"url\"" },
        { "[{\"name\":\"a\",\"url\":\"file:///etc/passwd\"}]", "t.json: tool 1: \"url\"" },
        { "[{\"name\":\"a\",\"url\":\"http://x/\",\"parameters\":[]}]", "t.json: tool 1: \"parameters\"" },
        { "[{\"name\":\"a\",\"url\":\"http://x/\",\"description\":5}]", "t.json: tool 1: \"description\"" },
        { "[{\"name\":\"a\",\"url\":\"http://x/\"},{\"name\":\"a\",\"url\":\"http://y/\"}]", "t.json: tool 2: a second tool" },
        { "[7]", "t.json: tool 1: not an object" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tools_t *x = s_parse(bad[i].text, err, sizeof err);
        CHECK(!x && !strncmp(err, bad[i].want, strlen(bad[i].want)), "refused: %s", err);
        tools_destroy(&x);
    }
    t = tools_load("/nonexistent/tools.json", err, sizeof err);
    CHECK(!t && strstr(err, "No such file"), "a missing file: %s", err);
    return TEST_DONE();
}
