/* stt_load — drives STT workers on a bus with a fixed utterance set, as
 * fast as they take it, for bench/workers.sh (not run by bench/run.sh on
 * its own: it needs a running stack).
 *
 *   stt_load --pub EP --sub EP --sessions M --wav a.wav,b.wav,...
 *
 * M sessions each say every WAV once, in order: an utterance's audio goes
 * out at once as 100 ms speech segments (the last one final), and the
 * session's next utterance starts when its final transcript is back. Prints
 * one line per final ("final SESSION UTT LATENCY_MS WORKER SENT_END_US")
 * and a summary line: utterances, audio seconds, wall seconds, audio
 * seconds transcribed per wall second, final latency p50/p95/max. */
#include "bus.h"
#include "log.h"
#include "pcm.h"
#include "wav.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOAD_MAX_WAVS 64
#define LOAD_MAX_SESSIONS 256
#define LOAD_CHUNK 1600        /* 100 ms at 16 kHz */

typedef struct {
    char id[64];
    int next;                  /* the utterance to send next (index into the WAVs) */
    bool waiting;
    int64_t sent_end_us;       /* wall clock: the final segment of the one in flight */
} s_session_t;

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void s_publish_session(bus_t *bus, const char *id, bool start)
{
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)id;
    Voxmesh__SessionStarted st = VOXMESH__SESSION_STARTED__INIT;
    Voxmesh__SessionEnded en = VOXMESH__SESSION_ENDED__INIT;
    st.transport = "bench";
    en.reason = "bench over";
    if (start) {
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_SESSION_STARTED;
        ev.session_started = &st;
    } else {
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED;
        ev.session_ended = &en;
    }
    bus_publish(bus, TOPIC_SESSION, &ev);
}

static void s_send_utterance(bus_t *bus, s_session_t *s, const pcm_t *x)
{
    const int16_t *samples = pcm_data(x);
    size_t n = pcm_frames(x);
    for (size_t at = 0; at < n; at += LOAD_CHUNK) {
        size_t k = n - at < LOAD_CHUNK ? n - at : LOAD_CHUNK;
        bool final = at + k >= n;
        Voxmesh__PcmAudio a = VOXMESH__PCM_AUDIO__INIT;
        a.sample_rate = 16000;
        a.channels = 1;
        a.format = VOXMESH__SAMPLE_FORMAT__SAMPLE_FORMAT_S16;
        a.samples.data = (uint8_t *)(samples + at);
        a.samples.len = k * 2;
        a.stream_offset = at;
        Voxmesh__SpeechSegment seg = VOXMESH__SPEECH_SEGMENT__INIT;
        seg.utterance_id = (uint64_t)s->next + 1;
        seg.audio = &a;
        seg.final = final;
        seg.start_us = 0;
        int64_t now = time_now_us();
        if (final) seg.speech_end_ts_us = now;
        event_t ev = VOXMESH__ENVELOPE__INIT;
        ev.session_id = s->id;
        ev.origin_ts_us = now;
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_SPEECH_SEGMENT;
        ev.speech_segment = &seg;
        bus_publish(bus, TOPIC_SPEECH_SEGMENT, &ev);
        if (final) s->sent_end_us = now;
    }
    s->waiting = true;
}

int main(int argc, char **argv)
{
    const char *pub = NULL, *sub = NULL, *wavs = NULL;
    int nsessions = 4;
    double timeout_s = 300;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--pub")) pub = argv[i + 1];
        else if (!strcmp(argv[i], "--sub")) sub = argv[i + 1];
        else if (!strcmp(argv[i], "--wav")) wavs = argv[i + 1];
        else if (!strcmp(argv[i], "--sessions")) nsessions = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--timeout-s")) timeout_s = atof(argv[i + 1]);
    }
    if (!pub || !sub || !wavs || nsessions < 1 || nsessions > LOAD_MAX_SESSIONS) {
        fprintf(stderr, "usage: stt_load --pub EP --sub EP --sessions M (1..%d) --wav a.wav,b.wav,... "
                        "[--timeout-s S]\n", LOAD_MAX_SESSIONS);
        return 2;
    }
    log_init("stt_load", LOG_LEVEL_WARN, false);
    pcm_t *utt[LOAD_MAX_WAVS];
    int nutt = 0;
    double audio_s = 0;
    char *list = strdup(wavs), *save = NULL;
    for (char *f = strtok_r(list, ",", &save); f && nutt < LOAD_MAX_WAVS; f = strtok_r(NULL, ",", &save)) {
        pcm_t *in = NULL;
        const char *why = NULL;
        if (wav_read_file(f, &in, &why) < 0 || !(utt[nutt] = pcm_resample(in, 16000, 1, PCM_S16))) {
            fprintf(stderr, "stt_load: %s: %s\n", f, why ? why : "cannot read");
            return 2;
        }
        audio_s += pcm_frames(utt[nutt]) / 16000.0;
        nutt++;
        pcm_destroy(&in);
    }
    free(list);
    char name[64];
    snprintf(name, sizeof name, "stt_load/%d", (int)getpid());
    bus_t *bus = bus_new(name, pub, sub, NULL);
    if (!bus || bus_subscribe(bus, TOPIC_STT_FINAL) < 0) return 1;
    usleep(500 * 1000);                        /* the subscription reaches the proxy */
    s_session_t *ss = calloc((size_t)nsessions, sizeof *ss);
    double *lat = calloc((size_t)(nsessions * nutt), sizeof *lat);
    for (int i = 0; i < nsessions; i++) {
        snprintf(ss[i].id, sizeof ss[i].id, "load%d-%d", (int)getpid(), i);
        s_publish_session(bus, ss[i].id, true);
    }
    usleep(200 * 1000);                        /* the dispatcher assigns them */
    int64_t t0 = time_mono_us();
    int done = 0, total = nsessions * nutt;
    for (int i = 0; i < nsessions; i++) s_send_utterance(bus, &ss[i], utt[ss[i].next]);
    while (done < total && time_mono_us() - t0 < (int64_t)(timeout_s * 1e6)) {
        bus_msg_t *m = bus_recv(bus, 100);
        if (!m) continue;
        const event_t *ev = m->ev;
        if (ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL && ev->session_id) {
            for (int i = 0; i < nsessions; i++) {
                s_session_t *s = &ss[i];
                if (strcmp(s->id, ev->session_id) || !s->waiting || ev->stt_final->utterance_id != (uint64_t)s->next + 1)
                    continue;
                double ms = (time_now_us() - s->sent_end_us) / 1000.0;
                lat[done++] = ms;
                printf("final %s %d %.1f %s %" PRId64 "\n", s->id, s->next + 1, ms, ev->publisher, s->sent_end_us);
                fflush(stdout);
                s->waiting = false;
                if (++s->next < nutt) s_send_utterance(bus, s, utt[s->next]);
            }
        }
        bus_msg_destroy(&m);
    }
    double wall = (time_mono_us() - t0) / 1e6;
    qsort(lat, (size_t)done, sizeof *lat, s_cmp);
    printf("summary utterances %d/%d audio_s %.1f wall_s %.2f audio_per_wall %.2f p50_ms %.0f p95_ms %.0f max_ms %.0f\n",
           done, total, audio_s * nsessions, wall, done == total ? audio_s * nsessions / wall : 0,
           done ? lat[done / 2] : 0, done ? lat[(int)(done * 0.95)] : 0, done ? lat[done - 1] : 0);
    for (int i = 0; i < nsessions; i++) s_publish_session(bus, ss[i].id, false);
    usleep(200 * 1000);
    for (int i = 0; i < nutt; i++) pcm_destroy(&utt[i]);
    free(ss);
    free(lat);
    bus_destroy(&bus);
    return done == total ? 0 : 1;
}
