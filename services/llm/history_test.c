/* history_test — the conversation bounds (turns, bytes, whole turns,
 * the newest always kept), replies replaced by what was spoken (cut
 * marked), tool messages, and the messages as valid JSON. */
#include "history.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static json_t *s_parse(const history_t *h)
{
    json_buf_t b;
    json_buf_init(&b);
    json_buf_raw(&b, "[");
    history_write(h, &b);
    json_buf_raw(&b, "]");
    json_t *v = json_parse(b.data, b.len, NULL, 0);
    json_buf_free(&b);
    return v;
}

static void s_bounds(void)
{
    history_t *h = history_new(3, 100000);
    for (uint64_t t = 1; t <= 5; t++) {
        char q[32], a[32];
        snprintf(q, sizeof q, "question %llu", (unsigned long long)t);
        snprintf(a, sizeof a, "answer %llu", (unsigned long long)t);
        history_add(h, t, "user", q);
        history_set_reply(h, t, a, false);
    }
    CHECK(history_turns(h) == 3 && history_len(h) == 6, "bounded to 3 turns (%zu turns, %zu messages)", history_turns(h),
          history_len(h));
    CHECK(history_turn(h, 0) == 3 && !strcmp(history_content(h, 0), "question 3")
          && !strcmp(history_content(h, 5), "answer 5"), "the oldest turns went first, whole");
    history_destroy(&h);
    CHECK(h == NULL, "destroy sets NULL");

    h = history_new(100, 200);
    history_add(h, 1, "user", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");   /* 82 */
    history_set_reply(h, 1, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", false);
    history_add(h, 2, "user", "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
    CHECK(history_turns(h) == 1 && history_turn(h, 0) == 2 && history_bytes(h) <= 200,
          "bounded by bytes: turn 1 dropped (%zu bytes)", history_bytes(h));
    /* One huge message: cut to half the bound, and the newest turn stays. */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    memcpy(big + 99, "\xC3\xA9", 2);   /* é across the cut at 100 */
    history_add(h, 3, "user", big);
    size_t last = history_len(h) - 1;
    CHECK(history_turn(h, last) == 3 && strlen(history_content(h, last)) == 99,
          "a huge message is cut to half the bound, on a character boundary (%zu bytes)", strlen(history_content(h, last)));
    history_add(h, 4, "user", big);
    CHECK(history_turns(h) == 1 && history_turn(h, 0) == 4, "the next big message pushes the older turn out");
    history_destroy(&h);
}

static void s_replies(void)
{
    history_t *h = history_new(10, 10000);
    history_add(h, 7, "user", "tell me a story");
    history_set_reply(h, 7, "Once upon a time.", true);
    CHECK(history_len(h) == 2 && !strcmp(history_role(h, 1), "assistant")
          && !strcmp(history_content(h, 1), "Once upon a time.\xE2\x80\xA6"), "an interrupted reply is marked cut");
    history_set_reply(h, 7, "Once upon", true);
    CHECK(history_len(h) == 2 && !strcmp(history_content(h, 1), "Once upon\xE2\x80\xA6"),
          "what was heard replaces the reply of that turn");
    history_add(h, 8, "user", "and then?");
    history_set_reply(h, 7, "Once", true);
    CHECK(history_len(h) == 3 && !strcmp(history_content(h, 1), "Once\xE2\x80\xA6") && history_turn(h, 2) == 8,
          "an older turn's reply is replaced in place");
    CHECK(history_has_turn(h, 7) && history_has_turn(h, 8) && !history_has_turn(h, 9), "has_turn");
    history_destroy(&h);
}

static void s_tools_and_json(void)
{
    history_t *h = history_new(2, 100000);
    history_add(h, 1, "user", "weather in \"Paris\"?\n");
    history_add_json(h, 1, "assistant",
                     "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
                     "\"function\":{\"name\":\"weather\",\"arguments\":\"{}\"}}]}");
    history_add_json(h, 1, "tool", "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny\"}");
    history_set_reply(h, 1, "It is sunny.", false);
    CHECK(history_len(h) == 4 && !strcmp(history_content(h, 3), "It is sunny."),
          "the reply after the tool messages is a message of its own");
    json_t *v = s_parse(h);
    CHECK(v && json_len(v) == 4, "the messages are a valid JSON array");
    CHECK(!strcmp(json_str(json_get(json_index(v, 0), "content")), "weather in \"Paris\"?\n"), "text escaped and read back");
    CHECK(!strcmp(json_str(json_get(json_index(v, 2), "tool_call_id")), "c1"), "tool messages as given");
    json_destroy(&v);
    history_add(h, 2, "user", "two");
    history_add(h, 3, "user", "three");
    CHECK(history_turns(h) == 2 && history_turn(h, 0) == 2, "the tool turn is dropped whole, never half");
    history_destroy(&h);
}

int main(void)
{
    s_bounds();
    s_replies();
    s_tools_and_json();
    return TEST_DONE();
}
