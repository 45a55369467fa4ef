/* summary_test — the JSON object voxmesh-client prints, and the small JSON
 * reading of the edge's WebSocket replies. */
#include "summary.h"
#include "test.h"

#include <string.h>

int main(void)
{
    summary_t s;
    summary_init(&s, "whip");
    char buf[2048];
    int n = summary_json(&s, buf, sizeof buf);
    CHECK(n > 0 && buf[0] == '{' && buf[n - 1] == '}', "empty summary: %s", buf);
    CHECK(strstr(buf, "\"connect_ms\":null") && strstr(buf, "\"first_audio_ms\":null")
          && strstr(buf, "\"reply_latency_ms\":null") && strstr(buf, "\"out\":null"),
          "unmeasured values are null");
    CHECK(!strstr(buf, "\"format\"") && !strstr(buf, "delete_status") && !strstr(buf, "session"),
          "whip without DELETE: no format, delete_status or session");

    s.connect_ms = 45.64;
    s.first_audio_ms = 252.25;
    s.reply_latency_ms = -3.0;
    s.packets_sent = 147;
    s.packets_received = 146;
    s.packets_lost = 1;
    s.jitter_ms = 0.5;
    s.sent_ms = 2940;
    s.received_ms = 2920;
    s.delete_status = 200;
    s.out = "dir/\"odd\"\\name.wav";
    snprintf(s.session, sizeof s.session, "http://127.0.0.1:8080/whip/abc");
    n = summary_json(&s, buf, sizeof buf);
    printf("     %s\n", buf);
    CHECK(n > 0 && strstr(buf, "\"transport\":\"whip\",\"connect_ms\":45.6,\"first_audio_ms\":252.2"),
          "times with one decimal");
    CHECK(strstr(buf, "\"reply_latency_ms\":-3.0"), "a negative latency prints as measured");
    CHECK(strstr(buf, "\"packets_sent\":147,\"packets_received\":146,\"packets_lost\":1"), "counters");
    CHECK(strstr(buf, "\"delete_status\":200") && strstr(buf, "\"session\":\"http://127.0.0.1:8080/whip/abc\""),
          "DELETE status and session");
    CHECK(strstr(buf, "\"out\":\"dir/\\\"odd\\\"\\\\name.wav\""), "the out path is escaped");
    char v[256];
    CHECK(json_get_string(buf, (size_t)n, "out", v, sizeof v) && !strcmp(v, s.out),
          "out reads back: %s", v);
    long k;
    CHECK(json_get_int(buf, (size_t)n, "packets_sent", &k) && k == 147, "packets_sent reads back");
    CHECK(summary_json(&s, buf, 40) == -1, "a small buffer is refused");

    summary_init(&s, "ws");
    s.format = "opus";
    s.rate = 16000;
    n = summary_json(&s, buf, sizeof buf);
    CHECK(strstr(buf, "\"transport\":\"ws\",\"format\":\"opus\",\"rate\":16000"), "ws: format and rate");

    /* the edge's replies */
    const char *acc = "{\"type\":\"accepted\",\"session_id\":\"0123abcd\",\"format\":\"pcm16\","
                      "\"sample_rate\":48000,\"channels\":1}";
    CHECK(json_get_string(acc, strlen(acc), "type", v, sizeof v) && !strcmp(v, "accepted"), "type");
    CHECK(json_get_string(acc, strlen(acc), "session_id", v, sizeof v) && !strcmp(v, "0123abcd"), "session_id");
    CHECK(json_get_int(acc, strlen(acc), "sample_rate", &k) && k == 48000, "sample_rate");
    CHECK(!json_get_string(acc, strlen(acc), "sample_rate", v, sizeof v), "a number is not a string");
    CHECK(!json_get_string(acc, strlen(acc), "reason", v, sizeof v), "absent member");
    const char *err = "{ \"type\" : \"error\", \"reason\" : \"unsupported format 'mp3' \\\"x\\\"\\u0041\\n\" }";
    CHECK(json_get_string(err, strlen(err), "reason", v, sizeof v)
          && !strcmp(v, "unsupported format 'mp3' \"x\"A\n"), "escapes and spaces: %s", v);
    const char *tricky = "{\"note\":\"\\\"type\\\":\\\"x\\\"\",\"inner\":{\"type\":\"no\"},\"type\":\"yes\"}";
    CHECK(json_get_string(tricky, strlen(tricky), "type", v, sizeof v) && !strcmp(v, "yes"),
          "keys inside strings and nested objects do not match");
    CHECK(!json_get_string("{\"type\":\"unterminated", 21, "type", v, sizeof v), "unterminated string");
    char small[4];
    CHECK(json_get_string(acc, strlen(acc), "type", small, sizeof small) && !strcmp(small, "acc"),
          "truncated into a small buffer");
    return TEST_DONE();
}
