/* json_test — the reader (valid and invalid documents, escapes, limits,
 * error positions), the NULL-safe accessors and the writer (escaping,
 * numbers, round trip through json_dump). */
#include "json.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "" for NULL, so that strcmp on a missing value fails instead of crashing. */
static const char *s_s(const char *s) { return s ? s : ""; }

static json_t *s_parse(const char *text, char *err, size_t errlen)
{
    return json_parse(text, strlen(text), err, errlen);
}

static bool s_valid(const char *text)
{
    json_t *v = s_parse(text, NULL, 0);
    bool ok = v != NULL;
    json_destroy(&v);
    return ok;
}

static void s_valid_documents(void)
{
    const char *good[] = {
        "null", "true", "false", "0", "-0", "1.5", "-12.5e+3", "1E-2", "\"\"", "[]", "{}",
        " \t\r\n[ 1 , 2 ]\n", "{\"a\":{\"b\":[null,true,{\"c\":\"d\"}]}}", "\"\\u00e9\"",
        "1e-400", "[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]", "{\"a\":1,\"a\":2}",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK(s_valid(good[i]), "valid: %s", good[i]);

    json_t *v = s_parse("{\"choices\":[{\"delta\":{\"content\":\"Hi\"},\"n\":3,\"ok\":true}],\"x\":null}", NULL, 0);
    CHECK(v && json_type(v) == JSON_OBJECT && json_len(v) == 2, "an object with two members");
    const json_t *c0 = json_index(json_get(v, "choices"), 0);
    CHECK(!strcmp(s_s(json_str(json_get(json_get(c0, "delta"), "content"))), "Hi"), "a nested string by chain");
    CHECK(json_num(json_get(c0, "n"), -1) == 3, "a number");
    CHECK(json_bool(json_get(c0, "ok"), false) == true, "a boolean");
    CHECK(json_type(json_get(v, "x")) == JSON_NULL && json_get(v, "x") != NULL, "an explicit null is a node");
    CHECK(!strcmp(json_key(v, 1), "x") && json_member(v, 1) == json_get(v, "x"), "keys and members by index");
    json_destroy(&v);
    CHECK(v == NULL, "destroy sets the pointer to NULL");

    v = s_parse("{\"a\":1,\"a\":2}", NULL, 0);
    CHECK(json_num(json_get(v, "a"), 0) == 1, "duplicate keys: json_get finds the first");
    json_destroy(&v);

    /* Not NUL-terminated: only len bytes are read. */
    const char buf[] = { '[', '1', ']', 'x' };
    v = json_parse(buf, 3, NULL, 0);
    CHECK(v && json_len(v) == 1, "text need not be NUL-terminated");
    json_destroy(&v);
}

static void s_invalid_documents(void)
{
    const char *bad[] = {
        "", " ", "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{a:1}", "['x']", "01", "-", "1.", ".5",
        "1e", "1e+", "+1", "NaN", "Infinity", "-Infinity", "tru", "nul", "[", "{", "\"abc", "[1]]",
        "{} x", "// c\n1", "/* c */ 1", "\"a\tb\"", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\ud800\"",
        "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"", "\xef\xbb\xbf[]", "1e400", "-1e400", "[\x01]", "\"\\",
        "{\"a\":}", "[,1]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[128] = "";
        json_t *v = s_parse(bad[i], err, sizeof err);
        int line = 0, col = 0;
        CHECK(!v && sscanf(err, "line %d col %d: ", &line, &col) == 2 && line >= 1 && col >= 1,
              "invalid #%zu refused: %s", i, err);
        json_destroy(&v);
    }
    char err[128];
    json_t *v = s_parse("{\n  \"a\": [1,\n    2,,\n  ]\n}", err, sizeof err);
    CHECK(!v && !strncmp(err, "line 3 col 7: ", 14), "the error names line and column: %s", err);
    v = s_parse("[1, 2", err, sizeof err);
    CHECK(!v && strstr(err, "unterminated array"), "an unterminated array says so: %s", err);
    v = s_parse("\"\\ud83d\"", err, sizeof err);
    CHECK(!v && strstr(err, "surrogate"), "a lone surrogate says so: %s", err);
    v = json_parse(NULL, 0, err, sizeof err);
    CHECK(!v, "NULL text is empty input");
    v = s_parse("[1,]", NULL, 0);
    CHECK(!v, "errors without an error buffer");
    /* A tiny buffer is never overrun and stays terminated. */
    char tiny[8];
    v = s_parse("[1,]", tiny, sizeof tiny);
    CHECK(!v && strlen(tiny) < sizeof tiny, "a short error buffer is truncated: '%s'", tiny);
}

static void s_escapes(void)
{
    json_t *v = s_parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", NULL, 0);
    CHECK(v && !strcmp(json_str(v), "a\"b\\c/d\b\f\n\r\t"), "simple escapes");
    json_destroy(&v);
    v = s_parse("\"\\u00e9\\u20AC\\ud83d\\ude00\"", NULL, 0);
    CHECK(v && !strcmp(json_str(v), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), "\\u escapes to UTF-8, a surrogate pair to 4 bytes");
    json_destroy(&v);
    v = s_parse("\"a\\u0000b\"", NULL, 0);
    CHECK(v && json_len(v) == 3 && !memcmp(json_str(v), "a\0b", 4), "\\u0000 kept, length 3");
    char *d = json_dump(v);
    CHECK(d && !strcmp(d, "\"a\\u0000b\""), "\\u0000 written back: %s", d ? d : "(null)");
    free(d);
    json_destroy(&v);
    v = s_parse("{\"k\\u0000ey\":1}", NULL, 0);
    d = json_dump(v);
    CHECK(d && !strcmp(d, "{\"k\\u0000ey\":1}"), "a key with \\u0000 round-trips: %s", d ? d : "(null)");
    free(d);
    json_destroy(&v);
}

static void s_limits(void)
{
    char deep[2 * JSON_MAX_DEPTH + 8];
    size_t n = 0;
    for (int i = 0; i < JSON_MAX_DEPTH; i++) deep[n++] = '[';
    for (int i = 0; i < JSON_MAX_DEPTH; i++) deep[n++] = ']';
    deep[n] = 0;
    CHECK(s_valid(deep), "%d levels of nesting are fine", JSON_MAX_DEPTH);
    n = 0;
    for (int i = 0; i <= JSON_MAX_DEPTH; i++) deep[n++] = '[';
    for (int i = 0; i <= JSON_MAX_DEPTH; i++) deep[n++] = ']';
    deep[n] = 0;
    char err[128];
    json_t *v = s_parse(deep, err, sizeof err);
    CHECK(!v && strstr(err, "deeper"), "%d levels are refused: %s", JSON_MAX_DEPTH + 1, err);

    size_t big = JSON_MAX_INPUT + 1;
    char *text = malloc(big);
    memset(text, ' ', big);
    text[0] = '0';
    v = json_parse(text, big, err, sizeof err);
    CHECK(!v && strstr(err, "larger"), "input over %u bytes refused: %s", JSON_MAX_INPUT, err);

    /* More values than the limit, in a document under the size limit. */
    size_t count = JSON_MAX_VALUES + 1, len = 0;
    text[len++] = '[';
    for (size_t i = 0; i < count; i++) {
        text[len++] = '0';
        text[len++] = ',';
    }
    text[len - 1] = ']';
    v = json_parse(text, len, err, sizeof err);
    CHECK(!v && strstr(err, "values"), "more than %u values refused: %s", JSON_MAX_VALUES, err);
    /* Just under the limit (the array itself counts). */
    len = 0;
    text[len++] = '[';
    for (size_t i = 0; i < JSON_MAX_VALUES - 1; i++) {
        text[len++] = '1';
        text[len++] = ',';
    }
    text[len - 1] = ']';
    v = json_parse(text, len, err, sizeof err);
    CHECK(v && json_len(v) == JSON_MAX_VALUES - 1 && json_num(json_index(v, JSON_MAX_VALUES - 2), 0) == 1,
          "%u values are fine", JSON_MAX_VALUES);
    json_destroy(&v);
    free(text);
}

static void s_accessors(void)
{
    CHECK(json_type(NULL) == JSON_NULL, "json_type(NULL)");
    CHECK(json_get(NULL, "x") == NULL && json_index(NULL, 0) == NULL, "get/index on NULL");
    CHECK(json_len(NULL) == 0 && json_key(NULL, 0) == NULL && json_member(NULL, 0) == NULL, "len/key/member on NULL");
    CHECK(json_str(NULL) == NULL && json_num(NULL, 7) == 7 && json_bool(NULL, true) == true, "values of NULL: fallbacks");
    CHECK(json_str(json_get(json_index(json_get(NULL, "choices"), 0), "text")) == NULL, "a chain through NULL");
    json_t *v = s_parse("[1,\"s\",{\"k\":false}]", NULL, 0);
    CHECK(json_get(v, "k") == NULL, "json_get on an array is NULL");
    CHECK(json_index(v, 3) == NULL, "json_index past the end is NULL");
    CHECK(json_index(json_index(v, 2), 0) == NULL, "json_index on an object is NULL");
    CHECK(json_str(json_index(v, 0)) == NULL && json_num(json_index(v, 1), -5) == -5, "wrong-type values give the fallback");
    CHECK(json_len(json_index(v, 1)) == 1 && json_len(json_index(v, 0)) == 0, "json_len of a string and a number");
    CHECK(json_bool(json_get(json_index(v, 2), "k"), true) == false, "false is read as false");
    CHECK(json_get(json_index(v, 2), NULL) == NULL, "json_get with a NULL key");
    const json_t *inner = json_index(v, 2);
    json_t *not_root = (json_t *)inner;
    json_destroy(&not_root);   /* must not free part of the tree */
    CHECK(not_root == NULL && json_len(json_index(v, 2)) == 1, "destroying a non-root node is a no-op");
    json_destroy(&v);
    json_destroy(&v);
    json_destroy(NULL);
    CHECK(v == NULL, "destroy twice and destroy(NULL) are safe");
}

static void s_writer(void)
{
    json_buf_t b;
    json_buf_init(&b);
    CHECK(b.data && b.len == 0 && !strcmp(b.data, ""), "a new buffer is an empty string");
    json_buf_raw(&b, "{\"s\":");
    json_buf_str(&b, "q\"b\\n\n\x01\x1f\xc3\xa9");
    json_buf_raw(&b, ",\"bad\":");
    json_buf_str(&b, "x\xff\xc3y");
    json_buf_raw(&b, ",\"null\":");
    json_buf_str(&b, NULL);
    json_buf_printf(&b, ",\"n\":%d,\"long\":\"%0300d\"}", 42, 7);
    CHECK(!b.oom, "no allocation failure");
    json_t *v = json_parse(b.data, b.len, NULL, 0);
    CHECK(v != NULL, "the written text parses");
    CHECK(!strcmp(s_s(json_str(json_get(v, "s"))), "q\"b\\n\n\x01\x1f\xc3\xa9"), "escaped string reads back");
    CHECK(!strcmp(s_s(json_str(json_get(v, "bad"))), "x\xef\xbf\xbd\xef\xbf\xbdy"), "invalid UTF-8 written as U+FFFD");
    CHECK(json_type(json_get(v, "null")) == JSON_NULL, "NULL string written as null");
    CHECK(json_num(json_get(v, "n"), 0) == 42 && json_len(json_get(v, "long")) == 300, "printf, also longer than its scratch");
    CHECK(strstr(b.data, "\\u0001") && strstr(b.data, "\\n"), "control characters escaped: %s", b.data);
    json_destroy(&v);
    json_buf_free(&b);

    const double nums[] = { 0.1, 1.0 / 3, 1e300, -2.5e-300, 123456789012345678.0, 42, 0 };
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        json_buf_init(&b);
        json_buf_num(&b, nums[i]);
        CHECK(strtod(b.data, NULL) == nums[i] && s_valid(b.data), "number %.17g written as %s", nums[i], b.data);
        json_buf_free(&b);
    }
    json_buf_init(&b);
    json_buf_num(&b, 0.1);
    CHECK(!strcmp(b.data, "0.1"), "the shortest form: %s", b.data);
    json_buf_raw(&b, ",");
    json_buf_num(&b, NAN);
    CHECK(!strcmp(b.data, "0.1,null"), "NaN written as null");
    json_buf_free(&b);
}

static void s_round_trip(void)
{
    const char *text = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9 \\\"x\\\"\"}],"
                       "\"t\":0.7,\"n\":-3,\"e\":1e-07,\"b\":[true,false,null],\"o\":{},\"a\":[],\"s\":\"\\ud83d\\ude00\"}";
    json_t *v = s_parse(text, NULL, 0);
    char *d1 = json_dump(v);
    json_t *v2 = d1 ? s_parse(d1, NULL, 0) : NULL;
    char *d2 = json_dump(v2);
    CHECK(d1 && d2 && !strcmp(d1, d2), "dump, parse, dump gives the same text:\n     %s", d1 ? d1 : "(null)");
    CHECK(json_num(json_get(v2, "t"), 0) == 0.7 && !strcmp(s_s(json_str(json_get(v2, "s"))), "\xf0\x9f\x98\x80"),
          "values survive the round trip");
    CHECK(d1 && strstr(d1, "\"content\":\"h\xc3\xa9 \\\"x\\\"\""), "strings are written as UTF-8 with escapes");
    free(d1);
    free(d2);
    json_destroy(&v);
    json_destroy(&v2);
    char *n = json_dump(NULL);
    CHECK(n && !strcmp(n, "null"), "dump(NULL) is null");
    free(n);
}

int main(void)
{
    s_valid_documents();
    s_invalid_documents();
    s_escapes();
    s_limits();
    s_accessors();
    s_writer();
    s_round_trip();
    return TEST_DONE();
}
