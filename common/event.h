/* event — the envelope every bus message carries, and the topic names.
 *
 * A message on the bus is two frames: a topic that ends with '.', then a
 * protobuf Envelope (proto/voxmesh.proto). The trailing '.' makes ZeroMQ's
 * prefix matching safe: a subscription to "stt.w1." never receives "stt.w10.". */
#ifndef VOXMESH_EVENT_H
#define VOXMESH_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include "voxmesh.pb-c.h"

typedef Voxmesh__Envelope event_t;

#define EVENT_VERSION 1
#define EVENT_TOPIC_MAX 96

/* Topics of the standard stack (docs/events.md lists who publishes what). */
#define TOPIC_SESSION         "session."
#define TOPIC_AUDIO_IN_OPUS   "audio.in.opus."
#define TOPIC_AUDIO_IN_PCM    "audio.in.pcm."
#define TOPIC_AUDIO_OUT_PCM   "audio.out.pcm."
#define TOPIC_AUDIO_OUT_OPUS  "audio.out.opus."
#define TOPIC_VIDEO_IN_VP8    "video.in.vp8."
#define TOPIC_VIDEO_FRAME     "video.frame."
#define TOPIC_VAD_EVENT       "vad.event."
#define TOPIC_SPEECH_SEGMENT  "speech.segment."
#define TOPIC_TURN_INTERRUPT  "turn.interrupt."
#define TOPIC_STT             "stt."
#define TOPIC_STT_PARTIAL     "stt.partial."
#define TOPIC_STT_FINAL       "stt.final."
#define TOPIC_LLM             "llm."
#define TOPIC_LLM_DELTA       "llm.delta."
#define TOPIC_LLM_SENTENCE    "llm.sentence."
#define TOPIC_LLM_DONE        "llm.done."
#define TOPIC_TTS_AUDIO       "tts.audio."
#define TOPIC_TTS_SPOKEN      "tts.spoken."
#define TOPIC_TTS_PROGRESS    "tts.progress."
#define TOPIC_HEALTH          "health."
#define TOPIC_WORKER_HB       "health.worker."
#define TOPIC_WORKER_LIST     "health.worker.list."
#define TOPIC_WORKER_ASSIGN   "worker.assign."

/* A topic is 1..EVENT_TOPIC_MAX-1 printable characters without spaces and
 * ends with '.'. */
bool event_topic_valid(const char *topic, size_t len);

/* The payload's name ("pcm_audio", "vad_speech_start", ...) or "none". */
const char *event_payload_name(const event_t *ev);

/* Writes a one-line human description of the event into buf. */
void event_format(const event_t *ev, const char *topic, char *buf, size_t size);

/* Writes the event as one JSON object (no newline) into buf; audio and video
 * bytes are summarised by their length. */
void event_format_json(const event_t *ev, const char *topic, char *buf, size_t size);

#endif
