/* zpl_test — the ZPL parser: trees, line numbers, errors, limits, printing. */
#include "zpl.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_failures;

#define CHECK(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        s_failures++; \
    } \
} while (0)

#define CHECK_STR(a, b) do { \
    const char *a_ = (a), *b_ = (b); \
    if (!a_ || !b_ || strcmp(a_, b_)) { \
        fprintf(stderr, "%s:%d: CHECK_STR failed: %s is \"%s\", expected \"%s\"\n", \
                __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
        s_failures++; \
    } \
} while (0)

static zpl_node_t *s_parse(const char *text, char **err)
{
    return zpl_parse(text, strlen(text), "t.zpl", err);
}

/* Parses `text`, which must fail with exactly `expected` as the error. */
static void s_expect_error(const char *text, const char *expected, int line)
{
    char *err = NULL;
    zpl_node_t *root = s_parse(text, &err);
    if (root || !err || strcmp(err, expected)) {
        fprintf(stderr, "%s:%d: expected error \"%s\", got %s \"%s\"\n", __FILE__, line,
                expected, root ? "a tree and" : "", err ? err : "(null)");
        s_failures++;
    }
    zpl_destroy(&root);
    free(err);
}
#define EXPECT_ERROR(text, expected) s_expect_error(text, expected, __LINE__)

static void test_tree(void)
{
    const char *text =
        "# deploy/graphs/parrot\n"
        "\n"
        "bus\n"
        "    pub = ipc://@voxmesh-parrot.pub    # proxy frontend\n"
        "    sub=\"ipc://@voxmesh-parrot.sub\"\n"
        "services\n"
        "    edge\n"
        "        settings\n"
        "            listen = 127.0.0.1:8080\n"
        "            title = 'say \"hi\" # not a comment'\n"
        "            motd = hello world   \n"
        "            empty = \"\"\n"
        "  # an indented comment, 2 spaces: fine\n"
        "\t# and one after a tab\n"
        "    parrot\n"
        "        replicas = 1\n"
        "flag\n"
        "odd$-_@.&+/name = x\n";
    char *err = NULL;
    zpl_node_t *root = s_parse(text, &err);
    CHECK(root);
    CHECK(!err);
    if (!root)
        return;
    CHECK_STR(zpl_name(root), "");
    CHECK(zpl_line(root) == 0);
    CHECK(zpl_value(root) == NULL);
    CHECK_STR(zpl_source(root), "t.zpl");

    zpl_node_t *bus = zpl_child(root);
    CHECK_STR(zpl_name(bus), "bus");
    CHECK(zpl_line(bus) == 3);
    CHECK(zpl_value(bus) == NULL);
    CHECK(zpl_parent(bus) == root);
    zpl_node_t *pub = zpl_child(bus);
    CHECK_STR(zpl_name(pub), "pub");
    CHECK_STR(zpl_value(pub), "ipc://@voxmesh-parrot.pub");
    CHECK(zpl_line(pub) == 4);
    CHECK_STR(zpl_source(pub), "t.zpl");
    CHECK_STR(zpl_get(root, "bus/sub", NULL), "ipc://@voxmesh-parrot.sub");
    CHECK(zpl_line(zpl_locate(root, "bus/sub")) == 5);

    zpl_node_t *listen = zpl_locate(root, "services/edge/settings/listen");
    CHECK(listen && zpl_line(listen) == 9);
    CHECK_STR(zpl_value(listen), "127.0.0.1:8080");
    CHECK_STR(zpl_get(root, "services/edge/settings/title", NULL), "say \"hi\" # not a comment");
    CHECK_STR(zpl_get(root, "services/edge/settings/motd", NULL), "hello world");
    CHECK_STR(zpl_get(root, "services/edge/settings/empty", NULL), "");
    CHECK_STR(zpl_get(root, "services/parrot/replicas", NULL), "1");
    CHECK(zpl_line(zpl_locate(root, "services/parrot")) == 15);
    CHECK(zpl_next(zpl_locate(root, "services/edge")) == zpl_locate(root, "services/parrot"));
    CHECK(zpl_locate(root, "flag") && !zpl_value(zpl_locate(root, "flag")));
    CHECK_STR(zpl_get(root, "flag", "dflt"), "dflt");
    CHECK_STR(zpl_get(root, "nope/none", "dflt"), "dflt");
    CHECK(zpl_locate(root, "services/nope") == NULL);
    CHECK(zpl_locate(root, "") == root);
    /* The names' own '/' only reach through walking. */
    zpl_node_t *odd = zpl_next(zpl_locate(root, "flag"));
    CHECK_STR(zpl_name(odd), "odd$-_@.&+/name");
    CHECK(zpl_next(odd) == NULL);
    zpl_destroy(&root);
    CHECK(root == NULL);
    zpl_destroy(&root);             /* idempotent */
}

static void test_line_endings(void)
{
    /* LF, CRLF and lone CR all end a line; CRLF counts once. */
    const char text[] = "a = 1\r\nb\r    c = 3\n\nd = 4";
    char *err = NULL;
    zpl_node_t *root = zpl_parse(text, sizeof text - 1, NULL, &err);
    CHECK(root);
    CHECK_STR(zpl_get(root, "a", NULL), "1");
    CHECK(zpl_line(zpl_locate(root, "b")) == 2);
    CHECK(zpl_line(zpl_locate(root, "b/c")) == 3);
    CHECK_STR(zpl_get(root, "b/c", NULL), "3");
    CHECK(zpl_line(zpl_locate(root, "d")) == 5);
    CHECK_STR(zpl_source(root), "<input>");
    zpl_destroy(&root);

    /* Empty input is an empty tree. */
    root = zpl_parse("", 0, "e", &err);
    CHECK(root && zpl_child(root) == NULL);
    zpl_destroy(&root);
    root = zpl_parse(NULL, 0, "e", &err);
    CHECK(root && zpl_child(root) == NULL);
    zpl_destroy(&root);
}

static void test_dedent(void)
{
    const char *text =
        "a\n"
        "    b\n"
        "        c\n"
        "            d = deep\n"
        "    e = back two levels\n"
        "f\n";
    zpl_node_t *root = s_parse(text, NULL);
    CHECK(root);
    CHECK_STR(zpl_get(root, "a/b/c/d", NULL), "deep");
    CHECK_STR(zpl_get(root, "a/e", NULL), "back two levels");
    CHECK(zpl_next(zpl_locate(root, "a/b")) == zpl_locate(root, "a/e"));
    CHECK(zpl_line(zpl_locate(root, "f")) == 6);
    zpl_destroy(&root);
}

static void test_describe_output(void)
{
    const char *text =
        "service = parrot\n"
        "    publishes\n"
        "        topic = audio.out.pcm.\n"
        "    subscribes\n"
        "        topic = audio.in.pcm.\n"
        "        topic = session.\n";
    zpl_node_t *root = s_parse(text, NULL);
    CHECK(root);
    CHECK_STR(zpl_get(root, "service", NULL), "parrot");
    zpl_node_t *t = zpl_child(zpl_locate(root, "service/subscribes"));
    CHECK_STR(zpl_value(t), "audio.in.pcm.");
    CHECK_STR(zpl_value(zpl_next(t)), "session.");
    CHECK(zpl_line(zpl_next(t)) == 6);
    zpl_destroy(&root);
}

static void test_errors(void)
{
    EXPECT_ERROR("a\n\tb = 1\n", "t.zpl:2: tab in indentation (indent with 4 spaces per level)");
    EXPECT_ERROR("a\n  \tb = 1\n", "t.zpl:2: tab in indentation (indent with 4 spaces per level)");
    EXPECT_ERROR("a\n   b = 1\n", "t.zpl:2: bad indentation: 3 spaces is not a multiple of 4");
    EXPECT_ERROR("a\n        b = 1\n", "t.zpl:2: bad indentation: 8 spaces, expected at most 4");
    EXPECT_ERROR("    a = 1\n", "t.zpl:1: bad indentation: 4 spaces, expected at most 0");
    EXPECT_ERROR("# c\n\na =\n", "t.zpl:3: missing value after '=' (write \"\" for an empty one)");
    EXPECT_ERROR("a =   # c\n", "t.zpl:1: missing value after '=' (write \"\" for an empty one)");
    EXPECT_ERROR("a = \"abc\n", "t.zpl:1: unterminated quote \"");
    EXPECT_ERROR("x\n    a = 'abc\"\n", "t.zpl:2: unterminated quote '");
    EXPECT_ERROR("a = \"abc\" d\n", "t.zpl:1: unexpected 'd' after the quoted value");
    EXPECT_ERROR("na*me = 1\n", "t.zpl:1: bad character '*' in name 'na'");
    EXPECT_ERROR("*name = 1\n", "t.zpl:1: bad character '*' in name");
    EXPECT_ERROR("= 1\n", "t.zpl:1: missing name before '='");
    EXPECT_ERROR("name value\n", "t.zpl:1: expected '=' after name 'name'");
    EXPECT_ERROR("a = b\x01\n", "t.zpl:1: control character 0x01");
    EXPECT_ERROR("a = b\x7f\n", "t.zpl:1: control character 0x7f");
    /* A NUL is an error even though the length says there is more. */
    char *err = NULL;
    zpl_node_t *root = zpl_parse("a = 1\nb\0c\n", 10, "nul", &err);
    CHECK(!root);
    CHECK_STR(err, "nul:2: control character 0x00");
    free(err);
    /* err may be NULL. */
    CHECK(zpl_parse("\tx", 2, NULL, NULL) == NULL);
}

static void test_limits(void)
{
    char *err = NULL;
    /* Longest line accepted, one more refused. */
    size_t n = ZPL_MAX_LINE;
    char *text = malloc(n + 16);
    memset(text, 'a', n);
    zpl_node_t *root = zpl_parse(text, n, "long", &err);
    CHECK(root && strlen(zpl_name(zpl_child(root))) == n);
    zpl_destroy(&root);
    memset(text, 'a', n + 1);
    root = zpl_parse(text, n + 1, "long", &err);
    CHECK(!root);
    CHECK_STR(err, "long:1: line longer than 4096 bytes");
    free(err);
    free(text);

    /* Depth: ZPL_MAX_DEPTH levels parse, one more does not. */
    size_t cap = (ZPL_MAX_DEPTH + 2) * (ZPL_MAX_DEPTH * 4 + 4);
    text = malloc(cap);
    size_t len = 0;
    for (int d = 0; d <= ZPL_MAX_DEPTH; d++)
        len += (size_t)snprintf(text + len, cap - len, "%*sn\n", d * 4, "");
    size_t last = len - (ZPL_MAX_DEPTH * 4 + 2);   /* the line one level too deep */
    root = zpl_parse(text, last, "deep", &err);
    CHECK(root);
    zpl_node_t *node = root;
    int depth = 0;
    while (zpl_child(node)) {
        node = zpl_child(node);
        depth++;
    }
    CHECK(depth == ZPL_MAX_DEPTH);
    zpl_destroy(&root);
    root = zpl_parse(text, len, "deep", &err);
    CHECK(!root);
    CHECK_STR(err, "deep:33: nested deeper than 32 levels");
    free(err);
    free(text);

    /* Node count. */
    cap = (ZPL_MAX_NODES + 1) * 2;
    text = malloc(cap);
    for (size_t i = 0; i < cap; i += 2) {
        text[i] = 'x';
        text[i + 1] = '\n';
    }
    root = zpl_parse(text, cap - 2, "many", &err);
    CHECK(root);
    zpl_destroy(&root);
    root = zpl_parse(text, cap, "many", &err);
    CHECK(!root);
    CHECK_STR(err, "many:100001: more than 100000 properties");
    free(err);
    free(text);
}

static void test_print_roundtrip(void)
{
    const char *text =
        "a = plain value\n"
        "    b = \"  padded  \"\n"
        "    c = 'has \"double\" and # hash'\n"
        "    d = \"it's\"\n"
        "    e = \"\"\n"
        "    f = it's \"mixed\"\n"
        "g\n";
    zpl_node_t *root = s_parse(text, NULL);
    CHECK(root);
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    CHECK(zpl_print(root, f) == 0);
    fclose(f);
    zpl_node_t *again = zpl_parse(out, out_len, "printed", NULL);
    CHECK(again);
    const char *paths[] = { "a", "a/b", "a/c", "a/d", "a/e", "a/f", "g" };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        const char *v1 = zpl_get(root, paths[i], NULL), *v2 = zpl_get(again, paths[i], NULL);
        CHECK((!v1 && !v2) || (v1 && v2 && !strcmp(v1, v2)));
    }
    CHECK_STR(zpl_get(again, "a/b", NULL), "  padded  ");
    free(out);

    /* A subtree prints itself and its children only. */
    f = open_memstream(&out, &out_len);
    CHECK(zpl_print(zpl_locate(root, "a/c"), f) == 0);
    fclose(f);
    CHECK_STR(out, "c = 'has \"double\" and # hash'\n");
    free(out);
    zpl_destroy(&root);
    zpl_destroy(&again);
}

static void test_load(void)
{
    char path[] = "/tmp/zpl_test.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text = "x = 1\n    y = 2\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    char *err = NULL;
    zpl_node_t *root = zpl_load(path, &err);
    CHECK(root);
    CHECK_STR(zpl_source(zpl_locate(root, "x/y")), path);
    CHECK(zpl_line(zpl_locate(root, "x/y")) == 2);
    zpl_destroy(&root);

    /* Syntax errors name the file. */
    FILE *f = fopen(path, "w");
    fputs("x = 1\n  y = 2\n", f);
    fclose(f);
    root = zpl_load(path, &err);
    CHECK(!root);
    char expected[128];
    snprintf(expected, sizeof expected, "%s:2: bad indentation: 2 spaces is not a multiple of 4", path);
    CHECK_STR(err, expected);
    free(err);
    unlink(path);

    root = zpl_load("/nonexistent/graph", &err);
    CHECK(!root);
    CHECK_STR(err, "/nonexistent/graph: No such file or directory");
    free(err);
}

int main(void)
{
    test_tree();
    test_line_endings();
    test_dedent();
    test_describe_output();
    test_errors();
    test_limits();
    test_print_roundtrip();
    test_load();
    if (s_failures) {
        fprintf(stderr, "zpl_test: %d failure(s)\n", s_failures);
        return 1;
    }
    printf("zpl_test: ok\n");
    return 0;
}
