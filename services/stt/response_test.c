/* response_test — reading providers' answers (response.c) and the WAV the
 * cloud engine sends (engine_http_wav_header), read back by common/wav. */
#include "engine_http.h"
#include "response.h"
#include "log.h"
#include "test.h"
#include "wav.h"

#include <stdlib.h>
#include <string.h>

static int s_parse(stt_wire_t w, const char *body, char *out, size_t size, float *conf, char *err)
{
    return stt_response_parse(w, body, strlen(body), out, size, conf, err, 200);
}

int main(void)
{
    log_init("response_test", LOG_LEVEL_ERROR, false);
    char out[STT_TEXT_MAX], err[200];
    float conf = -1;

    CHECK(s_parse(STT_WIRE_OPENAI, "{\"text\": \" Hello there.\\n  How are\\tyou? \"}", out, sizeof out, &conf, err) == 0
              && !strcmp(out, "Hello there. How are you?") && conf == 0,
          "openai: Whisper's leading space, newlines and tabs become one clean line: \"%s\"", out);
    CHECK(s_parse(STT_WIRE_OPENAI, "{\"text\": \"\", \"language\": \"en\"}", out, sizeof out, &conf, err) == 0 && !*out,
          "openai: an empty transcript is a valid answer");
    CHECK(s_parse(STT_WIRE_OPENAI, "{\"transcript\": \"x\"}", out, sizeof out, &conf, err) < 0 && strstr(err, "\"text\""),
          "openai: no text: %s", err);
    CHECK(s_parse(STT_WIRE_OPENAI, "{\"text\": 42}", out, sizeof out, &conf, err) < 0, "openai: text not a string");
    CHECK(s_parse(STT_WIRE_OPENAI, "Hello there.", out, sizeof out, &conf, err) < 0 && strstr(err, "not JSON"),
          "a text/plain answer is not JSON: %s", err);

    const char *dg = "{\"metadata\":{\"request_id\":\"r\"},\"results\":{\"channels\":[{\"alternatives\":"
                     "[{\"transcript\":\"what time is it\",\"confidence\":0.93,\"words\":[]},"
                     "{\"transcript\":\"what tie miss it\",\"confidence\":0.2}]}]}}";
    CHECK(s_parse(STT_WIRE_DEEPGRAM, dg, out, sizeof out, &conf, err) == 0 && !strcmp(out, "what time is it")
              && conf > 0.929f && conf < 0.931f,
          "deepgram: the first alternative and its confidence (%.2f)", conf);
    CHECK(s_parse(STT_WIRE_DEEPGRAM, "{\"results\":{\"channels\":[{\"alternatives\":[{\"transcript\":\"x\","
                                     "\"confidence\":7}]}]}}", out, sizeof out, &conf, err) == 0 && conf == 1,
          "deepgram: a confidence above 1 is clamped");
    CHECK(s_parse(STT_WIRE_DEEPGRAM, "{\"results\":{\"channels\":[{\"alternatives\":[{\"transcript\":\"x\","
                                     "\"confidence\":\"high\"}]}]}}", out, sizeof out, &conf, err) == 0 && conf == 0,
          "deepgram: a confidence that is not a number is 0");
    CHECK(s_parse(STT_WIRE_DEEPGRAM, "{\"results\":{\"channels\":[]}}", out, sizeof out, &conf, err) < 0
              && strstr(err, "alternatives[0].transcript"),
          "deepgram: no channel: %s", err);
    CHECK(s_parse(STT_WIRE_DEEPGRAM, "{\"text\":\"hello\"}", out, sizeof out, &conf, err) < 0,
          "deepgram: an OpenAI answer is not a Deepgram one");

    /* "caf\xC3\xA9" cut to fit 5 bytes with its terminator: "caf" (the é
     * does not fit whole), never half a character. */
    CHECK(s_parse(STT_WIRE_OPENAI, "{\"text\": \"caf\\u00e9\"}", out, 5, &conf, err) == 0 && !strcmp(out, "caf"),
          "a cut falls on a character boundary: \"%s\"", out);
    CHECK(s_parse(STT_WIRE_OPENAI, "{\"text\": \"caf\\u00e9\"}", out, 6, &conf, err) == 0 && !strcmp(out, "caf\xC3\xA9"),
          "a whole character that fits is kept");

    char line[400];
    const char *oe = "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\"}}";
    stt_response_error(429, oe, strlen(oe), NULL, line, sizeof line);
    CHECK(!strcmp(line, "HTTP 429: Rate limit reached"), "OpenAI's error message: %s", line);
    const char *dge = "{\"err_code\":\"INVALID_AUTH\",\"err_msg\":\"Invalid credentials for sk-abcdef.\"}";
    stt_response_error(401, dge, strlen(dge), "sk-abcdef", line, sizeof line);
    CHECK(!strcmp(line, "HTTP 401: Invalid credentials for ***."), "Deepgram's error message, the key masked: %s", line);
    const char *fa = "{\"detail\":\"Model not found\"}";
    stt_response_error(404, fa, strlen(fa), NULL, line, sizeof line);
    CHECK(!strcmp(line, "HTTP 404: Model not found"), "a FastAPI server's detail: %s", line);
    const char *html = "<html>\r\n<h1>502 Bad Gateway</h1>\r\n</html>";
    stt_response_error(502, html, strlen(html), NULL, line, sizeof line);
    CHECK(!strcmp(line, "HTTP 502: <html>  <h1>502 Bad Gateway</h1>  </html>"), "not JSON: the start of the body, one line: %s",
          line);
    stt_response_error(500, NULL, 0, NULL, line, sizeof line);
    CHECK(!strcmp(line, "HTTP 500"), "no body: %s", line);
    char big[3000];
    memset(big, 'x', sizeof big);
    memcpy(big, "{\"error\":\"", 10);
    memcpy(big + sizeof big - 2, "\"}", 2);
    stt_response_error(500, big, sizeof big, NULL, line, sizeof line);
    CHECK(strlen(line) < 220 && strstr(line, "..."), "a long message is cut (%zu bytes)", strlen(line));

    /* The WAV header, read back. */
    int16_t pcm[1000];
    for (int i = 0; i < 1000; i++) pcm[i] = (int16_t)(i * 37 - 18000);
    uint8_t *wav = malloc(STT_WAV_HEADER + sizeof pcm);
    engine_http_wav_header(wav, 1000);
    memcpy(wav + STT_WAV_HEADER, pcm, sizeof pcm);
    pcm_t *back = NULL;
    const char *why = NULL;
    int rc = wav_read_mem(wav, STT_WAV_HEADER + sizeof pcm, &back, &why);
    CHECK(rc == 0 && pcm_rate(back) == 16000 && pcm_channels(back) == 1 && pcm_frames(back) == 1000
              && !memcmp(pcm_data(back), pcm, sizeof pcm),
          "the WAV sent is 16 kHz mono s16 with the samples unchanged (%s)", why ? why : "read back");
    pcm_destroy(&back);
    free(wav);
    return TEST_DONE();
}
