/* oggopus — Ogg Opus (RFC 7845) reader and writer working on bytes, so that
 * the same code serves files and streams (WebSocket frames arriving in pieces,
 * pages sent as they are produced). libogg does the page framing and CRCs.
 *
 * Time is counted in 48 kHz samples per channel, whatever rate the Opus
 * decoder runs at (RFC 7845 granule positions are always 48 kHz).
 *
 * Errors are negative errno values: -EBADMSG malformed stream, -ENOTSUP
 * valid Ogg but not something we can play (not Opus, header version >= 16),
 * -EFBIG packet over 1 MiB, -ENODATA stream ended early, -EINVAL bad
 * argument, -ENOMEM, or a sink's own negative return. A reader error is
 * sticky and oggopus_reader_strerror() says what was wrong. See
 * docs/codecs.md. */
#ifndef VOXMESH_OGGOPUS_H
#define VOXMESH_OGGOPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The identification header (OpusHead). */
typedef struct {
    int version;            /* 0..15; only the major version 0 is accepted */
    int channels;           /* 1..255 */
    int preskip;            /* 48 kHz samples to drop at the start of decoding */
    uint32_t input_rate;    /* informational: rate of the original input, 0 = unknown */
    int output_gain;        /* Q7.8 dB to apply to decoded output */
    int mapping_family;     /* 0: mono/stereo; 1, 255: multistream */
    int stream_count;       /* family 0: 1 */
    int coupled_count;      /* family 0: channels - 1 */
    uint8_t mapping[255];   /* family 0: identity */
} oggopus_head_t;

/* ---- reader -------------------------------------------------------------------- */

typedef struct _oggopus_reader_t oggopus_reader_t;

/* One Opus packet out of the stream. */
typedef struct {
    const uint8_t *data;    /* valid until the next oggopus_reader_next() */
    size_t len;
    int samples;            /* 48 kHz samples the packet decodes to */
    int64_t granulepos;     /* stream position (48 kHz, pre-skip included) where the packet ends */
    int discard_start;      /* decoded samples (48 kHz) to drop at its start: pre-skip */
    int discard_end;        /* decoded samples (48 kHz) to drop at its end: end trimming */
    unsigned link;          /* 0 for the first stream; +1 per chained stream (new OpusHead) */
    bool eos;               /* the last packet of the stream */
} oggopus_packet_t;

/* Creates a reader for one Ogg stream fed in pieces. Returns NULL on ENOMEM. */
oggopus_reader_t *oggopus_reader_new(void);

/* Destroys the reader and sets *self_p to NULL. */
void oggopus_reader_destroy(oggopus_reader_t **self_p);

/* Appends received bytes (any split: a WebSocket frame, a file chunk). Drain
 * with oggopus_reader_next() before feeding much more: pages are buffered
 * until then. Returns 0, or the sticky error. */
int oggopus_reader_feed(oggopus_reader_t *self, const uint8_t *data, size_t len);

/* Gets the next audio packet. Returns 1 with *pkt filled, 0 when more input
 * is needed, or a negative error (sticky: the stream cannot be resumed).
 * Packets come out a page at a time, as soon as the page is complete; the
 * header packets are consumed internally. */
int oggopus_reader_next(oggopus_reader_t *self, oggopus_packet_t *pkt);

/* Call at end of input: 0 when the stream ended cleanly (end-of-stream page,
 * no leftover bytes), -ENODATA when it was cut short, or the sticky error. */
int oggopus_reader_finish(oggopus_reader_t *self);

/* The current link's OpusHead, or NULL before it was read. It changes when
 * a chained stream starts (oggopus_packet_t.link goes up). */
const oggopus_head_t *oggopus_reader_head(const oggopus_reader_t *self);

/* OpusTags of the current link: vendor string and "KEY=value" comments.
 * NULL / 0 before the tags were read. */
const char *oggopus_reader_vendor(const oggopus_reader_t *self);
int oggopus_reader_comment_count(const oggopus_reader_t *self);
const char *oggopus_reader_comment(const oggopus_reader_t *self, int index);

/* True once the current link's end-of-stream page was read. */
bool oggopus_reader_eos(const oggopus_reader_t *self);

/* What the sticky error was about, for the caller's log line ("" when none). */
const char *oggopus_reader_strerror(const oggopus_reader_t *self);

/* ---- writer -------------------------------------------------------------------- */

typedef struct _oggopus_writer_t oggopus_writer_t;

/* Receives each finished page (header and body in one buffer, so one page can
 * become one WebSocket message or one write()). Returns 0, or a negative
 * value that aborts the writer and is returned to the writer's caller. */
typedef int (oggopus_sink_fn)(void *arg, const uint8_t *data, size_t len);

typedef struct {
    int channels;             /* 1 or 2 (mapping family 0) */
    uint32_t input_rate;      /* informational, goes into OpusHead; 0 = unknown */
    int preskip;              /* 48 kHz samples: opus_enc_lookahead() of the encoder */
    int output_gain;          /* Q7.8 dB, normally 0 */
    uint32_t serial;          /* Ogg stream serial; 0 = random */
    int flush_ms;             /* 0: a page per packet (lowest latency); N: a page once
                                 it holds >= N ms of audio */
    const char *vendor;       /* NULL = "voxmesh" */
    const char *const *comments; /* NULL-terminated "KEY=value" list, or NULL */
} oggopus_writer_config_t;

/* Streaming defaults: mono, 48 kHz input, pre-skip 312 (libopus at 48 kHz),
 * a page per packet, random serial. */
void oggopus_writer_config_defaults(oggopus_writer_config_t *cfg);

/* Creates a writer that hands pages to `sink`. Nothing is written until the
 * first write/flush/finish. Returns NULL with errno set (EINVAL, ENOMEM). */
oggopus_writer_t *oggopus_writer_new(const oggopus_writer_config_t *cfg,
                                     oggopus_sink_fn *sink, void *arg);

/* Destroys the writer (without finishing the stream) and sets *self_p to NULL. */
void oggopus_writer_destroy(oggopus_writer_t **self_p);

/* Adds one Opus packet; emits the header pages first if not done yet, then
 * a page when the flush policy says so. Returns 0 or a negative error
 * (-EINVAL for a packet that is not valid Opus). */
int oggopus_writer_write(oggopus_writer_t *self, const uint8_t *pkt, size_t len);

/* Emits the headers and any pending packets now (e.g. before a pause). */
int oggopus_writer_flush(oggopus_writer_t *self);

/* Adds the last packet of the stream and ends it: the page that carries it is
 * flagged end-of-stream, and its granule position drops the last `end_trim`
 * samples (48 kHz) of the decoded output, i.e. the encoder's padding of the
 * final frame, so that a decoder outputs exactly the original length.
 * end_trim must be less than the samples still pending including this
 * packet (with flush_ms 0: this packet's). Further writes fail. */
int oggopus_writer_write_eos(oggopus_writer_t *self, const uint8_t *pkt, size_t len, int end_trim);

/* Ends the stream when the last packet is already written (e.g. the caller
 * learns of the end after the fact): pending packets go out on a page flagged
 * end-of-stream; with none pending, an empty end-of-stream page is written.
 * Further writes fail. Returns 0 or a negative error. */
int oggopus_writer_finish(oggopus_writer_t *self);

/* 48 kHz samples written so far (the granule position of the last packet). */
int64_t oggopus_writer_position(const oggopus_writer_t *self);

/* ---- helpers ------------------------------------------------------------------- */

/* Parses an OpusHead packet. 0, -EBADMSG (malformed) or -ENOTSUP (version). */
int oggopus_parse_head(const uint8_t *data, size_t len, oggopus_head_t *head);

#endif
