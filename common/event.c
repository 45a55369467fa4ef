/* event — see event.h. */
#include "event.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *event_payload_name(const event_t *ev)
{
    if (!ev) return "none";
    switch (ev->payload_case) {
    case VOXMESH__ENVELOPE__PAYLOAD_SESSION_STARTED: return "session_started";
    case VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED: return "session_ended";
    case VOXMESH__ENVELOPE__PAYLOAD_ENCODED_AUDIO: return "encoded_audio";
    case VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO: return "pcm_audio";
    case VOXMESH__ENVELOPE__PAYLOAD_ENCODED_VIDEO: return "encoded_video";
    case VOXMESH__ENVELOPE__PAYLOAD_VIDEO_FRAME: return "video_frame";
    case VOXMESH__ENVELOPE__PAYLOAD_VAD_SPEECH_START: return "vad_speech_start";
    case VOXMESH__ENVELOPE__PAYLOAD_VAD_SPEECH_END: return "vad_speech_end";
    case VOXMESH__ENVELOPE__PAYLOAD_SPEECH_SEGMENT: return "speech_segment";
    case VOXMESH__ENVELOPE__PAYLOAD_STT_PARTIAL: return "stt_partial";
    case VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL: return "stt_final";
    case VOXMESH__ENVELOPE__PAYLOAD_LLM_DELTA: return "llm_delta";
    case VOXMESH__ENVELOPE__PAYLOAD_LLM_SENTENCE: return "llm_sentence";
    case VOXMESH__ENVELOPE__PAYLOAD_LLM_DONE: return "llm_done";
    case VOXMESH__ENVELOPE__PAYLOAD_TTS_AUDIO: return "tts_audio";
    case VOXMESH__ENVELOPE__PAYLOAD_TURN_INTERRUPT: return "turn_interrupt";
    case VOXMESH__ENVELOPE__PAYLOAD_HEALTH: return "health";
    case VOXMESH__ENVELOPE__PAYLOAD_TTS_SPOKEN: return "tts_spoken";
    case VOXMESH__ENVELOPE__PAYLOAD_WORKER_HEARTBEAT: return "worker_heartbeat";
    case VOXMESH__ENVELOPE__PAYLOAD_WORKER_ASSIGN: return "worker_assign";
    case VOXMESH__ENVELOPE__PAYLOAD_TTS_PROGRESS: return "tts_progress";
    default: return "none";
    }
}

static const char *s_fmt_name(Voxmesh__SampleFormat f)
{
    return f == VOXMESH__SAMPLE_FORMAT__SAMPLE_FORMAT_S16 ? "s16"
         : f == VOXMESH__SAMPLE_FORMAT__SAMPLE_FORMAT_F32 ? "f32" : "?";
}

/* Escapes a string for JSON into out (always terminated). */
static void s_json_str(char *out, size_t size, const char *in)
{
    size_t o = 0;
    if (!in) in = "";
    for (; *in && o + 7 < size; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') { out[o++] = '\\'; out[o++] = (char)c; }
        else if (c < 0x20) o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        else out[o++] = (char)c;
    }
    out[o] = 0;
}

/* The payload-specific part, as "key=value ..." (human) or "\"key\":value,..." (json). */
static void s_payload(const event_t *ev, bool json, char *buf, size_t size)
{
    char text[512];
    buf[0] = 0;
    switch (ev->payload_case) {
    case VOXMESH__ENVELOPE__PAYLOAD_SESSION_STARTED: {
        const Voxmesh__SessionStarted *s = ev->session_started;
        const Voxmesh__AudioFormat *in = s->audio_in;
        snprintf(buf, size, json ? "\"transport\":\"%s\",\"codec\":\"%s\",\"rate\":%u,\"channels\":%u"
                                 : "transport=%s in=%s/%u/%u",
                 s->transport, in ? in->codec : "", in ? in->sample_rate : 0, in ? in->channels : 0);
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED:
        s_json_str(text, sizeof text, ev->session_ended->reason);
        snprintf(buf, size, json ? "\"reason\":\"%s\"" : "reason=%s", text);
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_ENCODED_AUDIO: {
        const Voxmesh__EncodedAudio *a = ev->encoded_audio;
        snprintf(buf, size, json ? "\"codec\":\"%s\",\"rtp_ts\":%u,\"bytes\":%zu,\"turn\":%" PRIu64
                                 : "codec=%s rtp_ts=%u bytes=%zu turn=%" PRIu64,
                 a->codec, a->rtp_timestamp, a->data.len, a->turn_id);
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO: {
        const Voxmesh__PcmAudio *p = ev->pcm_audio;
        snprintf(buf, size, json ? "\"rate\":%u,\"channels\":%u,\"format\":\"%s\",\"bytes\":%zu,\"turn\":%" PRIu64
                                   ",\"sentence\":%u,\"sentence_offset\":%" PRIu64
                                 : "rate=%u channels=%u format=%s bytes=%zu turn=%" PRIu64 " sentence=%u+%" PRIu64,
                 p->sample_rate, p->channels, s_fmt_name(p->format), p->samples.len, p->turn_id, p->sentence,
                 p->sentence_offset);
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_ENCODED_VIDEO: {
        const Voxmesh__EncodedVideo *v = ev->encoded_video;
        snprintf(buf, size, json ? "\"codec\":\"%s\",\"keyframe\":%s,\"bytes\":%zu"
                                 : "codec=%s keyframe=%s bytes=%zu",
                 v->codec, v->keyframe ? "true" : "false", v->data.len);
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_VIDEO_FRAME: {
        const Voxmesh__VideoFrame *f = ev->video_frame;
        snprintf(buf, size, json ? "\"width\":%u,\"height\":%u" : "size=%ux%u", f->width, f->height);
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_VAD_SPEECH_START:
        snprintf(buf, size, json ? "\"at_us\":%" PRId64 : "at=%" PRId64 "us", ev->vad_speech_start->at_us);
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_VAD_SPEECH_END:
        snprintf(buf, size, json ? "\"at_us\":%" PRId64 ",\"duration_us\":%" PRId64
                                 : "at=%" PRId64 "us duration=%" PRId64 "us",
                 ev->vad_speech_end->at_us, ev->vad_speech_end->duration_us);
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_SPEECH_SEGMENT: {
        const Voxmesh__SpeechSegment *s = ev->speech_segment;
        snprintf(buf, size, json ? "\"utterance\":%" PRIu64 ",\"final\":%s,\"bytes\":%zu"
                                 : "utterance=%" PRIu64 " final=%s bytes=%zu",
                 s->utterance_id, s->final ? "true" : "false", s->audio ? s->audio->samples.len : 0);
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_STT_PARTIAL:
    case VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL: {
        const Voxmesh__Transcript *t = ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL
                                           ? ev->stt_final : ev->stt_partial;
        char worker[128];
        s_json_str(text, sizeof text, t->text);
        s_json_str(worker, sizeof worker, t->worker);
        snprintf(buf, size, json ? "\"utterance\":%" PRIu64 ",\"text\":\"%s\",\"worker\":\"%s\""
                                 : "utterance=%" PRIu64 " text=\"%s\" worker=%s",
                 t->utterance_id, text, worker);
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_LLM_DELTA:
    case VOXMESH__ENVELOPE__PAYLOAD_LLM_SENTENCE:
    case VOXMESH__ENVELOPE__PAYLOAD_TTS_SPOKEN:
    case VOXMESH__ENVELOPE__PAYLOAD_TTS_PROGRESS: {
        const Voxmesh__LlmText *t = ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_LLM_DELTA ? ev->llm_delta
                                  : ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_LLM_SENTENCE ? ev->llm_sentence
                                  : ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_TTS_SPOKEN ? ev->tts_spoken
                                  : ev->tts_progress;
        s_json_str(text, sizeof text, t->text);
        snprintf(buf, size, json ? "\"turn\":%" PRIu64 ",\"index\":%u,\"text\":\"%s\""
                                 : "turn=%" PRIu64 " index=%u text=\"%s\"",
                 t->turn_id, t->index, text);
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_LLM_DONE: {
        char detail[256];
        s_json_str(text, sizeof text, ev->llm_done->reason);
        s_json_str(detail, sizeof detail, ev->llm_done->detail);
        snprintf(buf, size, json ? "\"turn\":%" PRIu64 ",\"reason\":\"%s\",\"sentences\":%u,\"detail\":\"%s\""
                                 : "turn=%" PRIu64 " reason=%s sentences=%u %s",
                 ev->llm_done->turn_id, text, ev->llm_done->sentences, detail);
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_TTS_AUDIO: {
        const Voxmesh__TtsAudio *t = ev->tts_audio;
        snprintf(buf, size, json ? "\"turn\":%" PRIu64 ",\"final\":%s,\"bytes\":%zu"
                                 : "turn=%" PRIu64 " final=%s bytes=%zu",
                 t->turn_id, t->final ? "true" : "false", t->audio ? t->audio->samples.len : 0);
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_TURN_INTERRUPT:
        s_json_str(text, sizeof text, ev->turn_interrupt->reason);
        snprintf(buf, size, json ? "\"reason\":\"%s\"" : "reason=%s", text);
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_HEALTH: {
        char detail[256];
        s_json_str(text, sizeof text, ev->health->service);
        s_json_str(detail, sizeof detail, ev->health->detail);
        snprintf(buf, size, json ? "\"service\":\"%s\",\"state\":\"%s\",\"detail\":\"%s\""
                                 : "service=%s state=%s %s",
                 text, ev->health->state ? ev->health->state : "", detail);
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_WORKER_HEARTBEAT: {
        const Voxmesh__WorkerHeartbeat *h = ev->worker_heartbeat;
        s_json_str(text, sizeof text, h->role);
        snprintf(buf, size, json ? "\"role\":\"%s\",\"sessions\":%u,\"busy\":%u,\"capacity\":%u"
                                 : "role=%s sessions=%u busy=%u/%u",
                 text, h->sessions, h->busy, h->capacity);
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_WORKER_ASSIGN: {
        const Voxmesh__WorkerAssign *a = ev->worker_assign;
        char worker[128], prev[128], reason[32];
        s_json_str(text, sizeof text, a->role);
        s_json_str(worker, sizeof worker, a->worker);
        s_json_str(prev, sizeof prev, a->previous);
        s_json_str(reason, sizeof reason, a->reason);
        snprintf(buf, size, json ? "\"role\":\"%s\",\"worker\":\"%s\",\"epoch\":%" PRIu64
                                   ",\"previous\":\"%s\",\"reason\":\"%s\""
                                 : "role=%s worker=%s epoch=%" PRIu64 " previous=%s reason=%s",
                 text, worker, a->epoch, prev, reason);
        break;
    }
    default:
        break;
    }
}

void event_format(const event_t *ev, const char *topic, char *buf, size_t size)
{
    char payload[768];
    s_payload(ev, false, payload, sizeof payload);
    int64_t hop = ev->sent_ts_us ? ev->sent_ts_us - ev->origin_ts_us : 0;
    snprintf(buf, size, "%-18s %-16s session=%s pub=%s seq=%" PRIu64 " age=%.1fms %s",
             topic, event_payload_name(ev), ev->session_id && *ev->session_id ? ev->session_id : "-",
             ev->publisher ? ev->publisher : "-", ev->seq, hop / 1000.0, payload);
}

void event_format_json(const event_t *ev, const char *topic, char *buf, size_t size)
{
    char payload[768], sid[160], pub[160];
    s_payload(ev, true, payload, sizeof payload);
    s_json_str(sid, sizeof sid, ev->session_id);
    s_json_str(pub, sizeof pub, ev->publisher);
    snprintf(buf, size,
             "{\"topic\":\"%s\",\"type\":\"%s\",\"session\":\"%s\",\"publisher\":\"%s\",\"seq\":%" PRIu64
             ",\"origin_ts_us\":%" PRId64 ",\"sent_ts_us\":%" PRId64 "%s%s}",
             topic, event_payload_name(ev), sid, pub, ev->seq, ev->origin_ts_us, ev->sent_ts_us,
             *payload ? "," : "", payload);
}
