/* oggopus — see oggopus.h. */
#include "oggopus.h"
#include "opus_codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <ogg/ogg.h>

/* Largest packet the reader buffers: far above any audio packet (an Opus
 * packet is < 64 KiB) and generous for OpusTags, while bounding what a peer
 * can make us hold by never finishing a packet. */
#define S_MAX_PACKET (1 << 20)

/* Most packets one page can complete: one per lacing value. */
#define S_MAX_PAGE_PACKETS 255

/* ---- helpers ------------------------------------------------------------------- */

static uint16_t s_le16(const uint8_t *p)
{
    return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t s_le32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static void s_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) v, p[1] = (uint8_t) (v >> 8);
}

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

int oggopus_parse_head(const uint8_t *data, size_t len, oggopus_head_t *head)
{
    if (!data || len < 19 || memcmp(data, "OpusHead", 8))
        return -EBADMSG;
    memset(head, 0, sizeof *head);
    head->version = data[8];
    /* RFC 7845 5.1: the upper four bits are an incompatible version; minor
     * versions only append fields, which we ignore. */
    if (head->version >> 4)
        return -ENOTSUP;
    head->channels = data[9];
    head->preskip = s_le16(data + 10);
    head->input_rate = s_le32(data + 12);
    head->output_gain = (int16_t) s_le16(data + 16);
    head->mapping_family = data[18];
    if (head->channels == 0)
        return -EBADMSG;
    if (head->mapping_family == 0) {
        if (head->channels > 2)
            return -EBADMSG;
        head->stream_count = 1;
        head->coupled_count = head->channels - 1;
        for (int i = 0; i < head->channels; i++)
            head->mapping[i] = (uint8_t) i;
        return 0;
    }
    if (len < 21 + (size_t) head->channels)
        return -EBADMSG;
    head->stream_count = data[19];
    head->coupled_count = data[20];
    if (head->stream_count == 0 || head->coupled_count > head->stream_count
        || head->stream_count + head->coupled_count > 255)
        return -EBADMSG;
    for (int i = 0; i < head->channels; i++) {
        head->mapping[i] = data[21 + i];
        if (head->mapping[i] != 255 && head->mapping[i] >= head->stream_count + head->coupled_count)
            return -EBADMSG;
    }
    return 0;
}

/* ---- reader -------------------------------------------------------------------- */

enum { S_WANT_HEAD, S_WANT_TAGS, S_AUDIO, S_ENDED };

typedef struct {
    ogg_packet op;
    int samples;
    int64_t granulepos;
    int discard_start;
    int discard_end;
} s_queued_t;

struct _oggopus_reader_t {
    ogg_sync_state oy;
    ogg_stream_state os;
    bool os_ready;
    long serial;
    int state;
    int error;                /* sticky, 0 when fine */
    const char *reason;
    bool seen_page;           /* any page of any stream yet */
    bool have_head;
    unsigned link;
    oggopus_head_t head;
    char *vendor;
    char **comments;
    int ncomments;
    /* audio timeline of the current link */
    int64_t pos;              /* granule position where the next packet starts; -1: not known yet */
    int preskip_left;
    /* packets completed on the current page, handed out one by one; their
     * data lives in libogg's stream buffer until the next page goes in */
    s_queued_t queue[S_MAX_PAGE_PACKETS];
    int nqueue, iqueue;
    bool queue_eos;
};

static int s_fail(oggopus_reader_t *self, int err, const char *reason)
{
    if (!self->error) {
        self->error = err;
        self->reason = reason;
    }
    return self->error;
}

static void s_free_tags(oggopus_reader_t *self)
{
    free(self->vendor);
    self->vendor = NULL;
    for (int i = 0; i < self->ncomments; i++)
        free(self->comments[i]);
    free(self->comments);
    self->comments = NULL;
    self->ncomments = 0;
}

oggopus_reader_t *oggopus_reader_new(void)
{
    oggopus_reader_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    ogg_sync_init(&self->oy);
    self->pos = -1;
    self->reason = "";
    return self;
}

void oggopus_reader_destroy(oggopus_reader_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    oggopus_reader_t *self = *self_p;
    ogg_sync_clear(&self->oy);
    if (self->os_ready)
        ogg_stream_clear(&self->os);
    s_free_tags(self);
    free(self);
    *self_p = NULL;
}

int oggopus_reader_feed(oggopus_reader_t *self, const uint8_t *data, size_t len)
{
    if (!self || (!data && len))
        return -EINVAL;
    if (self->error)
        return self->error;
    if (len == 0)
        return 0;
    if (len > INT32_MAX)
        return -EINVAL;
    char *buf = ogg_sync_buffer(&self->oy, (long) len);
    if (!buf)
        return s_fail(self, -ENOMEM, "out of memory buffering input");
    memcpy(buf, data, len);
    if (ogg_sync_wrote(&self->oy, (long) len) < 0)
        return s_fail(self, -ENOMEM, "out of memory buffering input");
    return 0;
}

/* OpusTags: magic, vendor string, comment count, comments, each string with
 * a 32-bit length. Lengths are checked against what is left before anything
 * is allocated, so a lying count cannot make us allocate gigabytes. */
static int s_parse_tags(oggopus_reader_t *self, const uint8_t *p, size_t len)
{
    if (len < 16 || memcmp(p, "OpusTags", 8))
        return s_fail(self, -EBADMSG, "second packet is not OpusTags");
    size_t off = 8;
    uint32_t vlen = s_le32(p + off);
    off += 4;
    if (vlen > len - off || len - off - vlen < 4)
        return s_fail(self, -EBADMSG, "OpusTags vendor string runs past the packet");
    self->vendor = strndup((const char *) p + off, vlen);
    off += vlen;
    uint32_t count = s_le32(p + off);
    off += 4;
    if (count > (len - off) / 4)
        return s_fail(self, -EBADMSG, "OpusTags comment count runs past the packet");
    self->comments = calloc(count ? count : 1, sizeof *self->comments);
    if (!self->vendor || !self->comments)
        return s_fail(self, -ENOMEM, "out of memory for OpusTags");
    for (uint32_t i = 0; i < count; i++) {
        if (len - off < 4)
            return s_fail(self, -EBADMSG, "OpusTags comment runs past the packet");
        uint32_t clen = s_le32(p + off);
        off += 4;
        if (clen > len - off)
            return s_fail(self, -EBADMSG, "OpusTags comment runs past the packet");
        self->comments[i] = strndup((const char *) p + off, clen);
        if (!self->comments[i])
            return s_fail(self, -ENOMEM, "out of memory for OpusTags");
        self->ncomments++;
        off += clen;
    }
    return 0;
}

/* Starts a (possibly chained) link at a beginning-of-stream page that holds
 * an OpusHead. */
static int s_start_link(oggopus_reader_t *self, ogg_page *og)
{
    /* RFC 7845 3: the OpusHead packet is alone on the first page and ends it. */
    int nsegs = og->header[26];
    if (ogg_page_packets(og) != 1 || ogg_page_continued(og) || nsegs == 0
        || og->header[27 + nsegs - 1] == 255)
        return s_fail(self, -EBADMSG, "OpusHead is not alone on the first page");
    if (self->os_ready)
        ogg_stream_clear(&self->os);
    self->os_ready = ogg_stream_init(&self->os, ogg_page_serialno(og)) == 0;
    if (!self->os_ready)
        return s_fail(self, -ENOMEM, "out of memory for the Ogg stream");
    self->serial = ogg_page_serialno(og);
    ogg_packet op;
    if (ogg_stream_pagein(&self->os, og) < 0 || ogg_stream_packetout(&self->os, &op) != 1)
        return s_fail(self, -EBADMSG, "cannot take the OpusHead packet off its page");
    int r = oggopus_parse_head(op.packet, (size_t) op.bytes, &self->head);
    if (r == -ENOTSUP)
        return s_fail(self, r, "OpusHead has an unsupported major version");
    if (r < 0)
        return s_fail(self, r, "malformed OpusHead");
    if (self->have_head)
        self->link++;
    self->have_head = true;
    s_free_tags(self);
    self->pos = -1;
    self->preskip_left = self->head.preskip;
    self->state = S_WANT_TAGS;
    return 0;
}

/* Takes every packet that completes on the page just paged in, and works out
 * each packet's place on the timeline from the page's granule position
 * (RFC 7845 4: start offset on the first audio page, end trimming on the
 * last one). */
static int s_queue_page(oggopus_reader_t *self, ogg_page *og)
{
    self->nqueue = self->iqueue = 0;
    int64_t sum = 0;
    for (;;) {
        ogg_packet op;
        int r = ogg_stream_packetout(&self->os, &op);
        if (r == 0)
            break;
        if (r < 0)
            return s_fail(self, -EBADMSG, "gap in the Ogg page sequence (lost or reordered page)");
        if (self->nqueue == S_MAX_PAGE_PACKETS)
            return s_fail(self, -EBADMSG, "too many packets on one page");
        int samples = opus_packet_duration(op.packet, (size_t) op.bytes, 48000);
        if (samples <= 0)
            return s_fail(self, -EBADMSG, "audio packet is not a valid Opus packet");
        s_queued_t *q = &self->queue[self->nqueue++];
        *q = (s_queued_t) { .op = op, .samples = samples };
        sum += samples;
    }
    bool eos = ogg_page_eos(og);
    self->queue_eos = eos;
    if (self->nqueue == 0)
        return 0;
    int64_t gp = ogg_page_granulepos(og);
    if (gp < 0)
        return s_fail(self, -EBADMSG, "page completes packets but has no granule position");
    /* Half of the int64 range is still millions of years of audio; the
     * bound keeps all the arithmetic below free of overflow. */
    if (gp > INT64_MAX / 2)
        return s_fail(self, -EBADMSG, "granule position out of range");
    int64_t start;
    if (self->pos < 0) {
        /* First audio page: a granule above the page's audio is a start
         * offset; below it is only legal when the stream also ends here. */
        start = gp - sum;
        if (start < 0) {
            if (!eos)
                return s_fail(self, -EBADMSG, "first audio page's granule position is smaller than its audio");
            start = 0;
        }
    } else {
        start = self->pos;
        /* Granule positions need not be contiguous in a live stream: trust
         * the page, but never let time run backwards. */
        if (!eos && gp != start + sum) {
            if (gp - sum < start)
                return s_fail(self, -EBADMSG, "granule position goes backwards");
            start = gp - sum;
        }
    }
    int64_t end_keep = INT64_MAX;
    if (eos && gp < start + sum) {
        if (start + sum - gp > sum)
            return s_fail(self, -EBADMSG, "end trimming exceeds the last page's audio");
        end_keep = gp;
    }
    int64_t at = start;
    for (int i = 0; i < self->nqueue; i++) {
        s_queued_t *q = &self->queue[i];
        q->discard_start = q->samples < self->preskip_left ? q->samples : self->preskip_left;
        self->preskip_left -= q->discard_start;
        at += q->samples;
        q->granulepos = at;
        if (at > end_keep) {
            int64_t cut = at - end_keep;
            int room = q->samples - q->discard_start;
            q->discard_end = cut > room ? room : (int) cut;
        }
    }
    self->pos = at;
    return 0;
}

/* Handles one page from the sync layer. */
static int s_page(oggopus_reader_t *self, ogg_page *og)
{
    bool bos = ogg_page_bos(og);
    long serial = ogg_page_serialno(og);
    bool first = !self->seen_page;
    self->seen_page = true;

    if (self->state == S_WANT_HEAD || self->state == S_ENDED) {
        if (bos && og->body_len >= 8 && !memcmp(og->body, "OpusHead", 8))
            return s_start_link(self, og);
        if (self->state == S_ENDED) {
            if (serial == self->serial)
                return s_fail(self, -EBADMSG, "page after the end of the stream");
            return 0; /* another multiplexed stream carrying on */
        }
        /* All beginning-of-stream pages of a group come first; once they are
         * over without an OpusHead, this is not an Opus stream. */
        if (!bos)
            return s_fail(self, first ? -EBADMSG : -ENOTSUP,
                          first ? "first page is not a beginning-of-stream page" : "no Opus stream in this Ogg file");
        return 0;
    }

    if (serial != self->serial)
        return 0; /* other streams of a multiplexed file: not ours */
    if (ogg_stream_pagein(&self->os, og) < 0)
        return s_fail(self, -EBADMSG, "page rejected by the Ogg stream layer");
    if (self->os.body_fill > S_MAX_PACKET)
        return s_fail(self, -EFBIG, "packet larger than 1 MiB");

    if (self->state == S_WANT_TAGS) {
        ogg_packet op;
        int r = ogg_stream_packetout(&self->os, &op);
        if (r == 0)
            return 0; /* tags continue on the next page */
        if (r < 0)
            return s_fail(self, -EBADMSG, "gap in the Ogg page sequence (lost or reordered page)");
        r = s_parse_tags(self, op.packet, (size_t) op.bytes);
        if (r < 0)
            return r;
        /* RFC 7845 3: audio starts on a fresh page after the tags. */
        int nsegs = og->header[26];
        if (ogg_stream_packetpeek(&self->os, NULL) != 0 || nsegs == 0 || og->header[27 + nsegs - 1] == 255)
            return s_fail(self, -EBADMSG, "audio data on the OpusTags page");
        self->state = ogg_page_eos(og) ? S_ENDED : S_AUDIO;
        return 0;
    }

    int r = s_queue_page(self, og);
    if (r < 0)
        return r;
    if (self->queue_eos)
        self->state = S_ENDED;
    return 0;
}

int oggopus_reader_next(oggopus_reader_t *self, oggopus_packet_t *pkt)
{
    if (!self || !pkt)
        return -EINVAL;
    for (;;) {
        if (self->error)
            return self->error;
        if (self->iqueue < self->nqueue) {
            s_queued_t *q = &self->queue[self->iqueue++];
            *pkt = (oggopus_packet_t) {
                .data = q->op.packet,
                .len = (size_t) q->op.bytes,
                .samples = q->samples,
                .granulepos = q->granulepos,
                .discard_start = q->discard_start,
                .discard_end = q->discard_end,
                .link = self->link,
                .eos = self->queue_eos && self->iqueue == self->nqueue,
            };
            return 1;
        }
        self->nqueue = self->iqueue = 0;
        ogg_page og;
        int r = ogg_sync_pageout(&self->oy, &og);
        if (r == 0)
            return 0;
        if (r < 0)
            return s_fail(self, -EBADMSG, "bytes that are not an Ogg page (bad capture pattern, version or CRC)");
        r = s_page(self, &og);
        if (r < 0)
            return r;
    }
}

int oggopus_reader_finish(oggopus_reader_t *self)
{
    if (!self)
        return -EINVAL;
    if (self->error)
        return self->error;
    /* Pages still buffered mean next() was not drained: look at them first. */
    oggopus_packet_t pkt;
    while (oggopus_reader_next(self, &pkt) == 1)
        ;
    if (self->error)
        return self->error;
    if (self->oy.fill > self->oy.returned)
        return s_fail(self, -ENODATA, "input ends inside an Ogg page");
    if (!self->have_head)
        return s_fail(self, -ENODATA, "input ends before the OpusHead");
    if (self->state != S_ENDED)
        return s_fail(self, -ENODATA, "input ends without an end-of-stream page");
    return 0;
}

const oggopus_head_t *oggopus_reader_head(const oggopus_reader_t *self)
{
    return self->have_head ? &self->head : NULL;
}

const char *oggopus_reader_vendor(const oggopus_reader_t *self)
{
    return self->vendor;
}

int oggopus_reader_comment_count(const oggopus_reader_t *self)
{
    return self->ncomments;
}

const char *oggopus_reader_comment(const oggopus_reader_t *self, int index)
{
    return index >= 0 && index < self->ncomments ? self->comments[index] : NULL;
}

bool oggopus_reader_eos(const oggopus_reader_t *self)
{
    return self->have_head && self->state == S_ENDED;
}

const char *oggopus_reader_strerror(const oggopus_reader_t *self)
{
    return self->reason;
}

/* ---- writer -------------------------------------------------------------------- */

struct _oggopus_writer_t {
    oggopus_writer_config_t cfg;
    char *vendor;
    char **comments;
    int ncomments;
    oggopus_sink_fn *sink;
    void *arg;
    ogg_stream_state os;
    int error;
    bool headers_done;
    bool finished;
    int64_t granule;          /* 48 kHz samples of all packets written */
    int64_t packetno;
    /* Packets accepted but not yet paged: kept here, not in libogg, so that
     * finish() can still flag the last one end-of-stream and trim it. */
    uint8_t *pend;
    size_t pend_len, pend_cap;
    struct { size_t off, len; int samples; } *pkts;
    int npkts, pkts_cap;
    int pend_samples;
    int pend_segs;            /* lacing values the pending packets need */
    uint8_t *page;            /* header + body of one page for the sink */
    size_t page_cap;
};

void oggopus_writer_config_defaults(oggopus_writer_config_t *cfg)
{
    *cfg = (oggopus_writer_config_t) {
        .channels = 1,
        .input_rate = 48000,
        .preskip = 312,
        .flush_ms = 0,
    };
}

oggopus_writer_t *oggopus_writer_new(const oggopus_writer_config_t *cfg,
                                     oggopus_sink_fn *sink, void *arg)
{
    if (!cfg || !sink || cfg->channels < 1 || cfg->channels > 2 || cfg->preskip < 0
        || cfg->preskip > 65535 || cfg->output_gain < -32768 || cfg->output_gain > 32767
        || cfg->flush_ms < 0 || cfg->flush_ms > 1000) {
        errno = EINVAL;
        return NULL;
    }
    oggopus_writer_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->cfg = *cfg;
    self->sink = sink;
    self->arg = arg;
    self->vendor = strdup(cfg->vendor ? cfg->vendor : "voxmesh");
    int n = 0;
    while (cfg->comments && cfg->comments[n])
        n++;
    self->comments = calloc((size_t) n + 1, sizeof *self->comments);
    bool ok = self->vendor && self->comments;
    for (int i = 0; ok && i < n; i++) {
        self->comments[i] = strdup(cfg->comments[i]);
        ok = self->comments[i] != NULL;
        self->ncomments += ok;
    }
    uint32_t serial = cfg->serial;
    /* A random serial keeps streams distinguishable if they are ever
     * concatenated (chained) or multiplexed. */
    while (serial == 0)
        if (getrandom(&serial, sizeof serial, 0) != sizeof serial)
            serial = 0x766f786d; /* "voxm" */
    self->cfg.serial = serial;
    /* ogg_stream_clear() in destroy is safe on the zeroed struct too. */
    if (!ok || ogg_stream_init(&self->os, (int) serial) != 0) {
        oggopus_writer_destroy(&self);
        errno = ENOMEM;
        return NULL;
    }
    return self;
}

void oggopus_writer_destroy(oggopus_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    oggopus_writer_t *self = *self_p;
    ogg_stream_clear(&self->os);
    free(self->vendor);
    for (int i = 0; i < self->ncomments; i++)
        free(self->comments[i]);
    free(self->comments);
    free(self->pend);
    free(self->pkts);
    free(self->page);
    free(self);
    *self_p = NULL;
}

static int s_emit(oggopus_writer_t *self, const ogg_page *og)
{
    size_t len = (size_t) og->header_len + (size_t) og->body_len;
    if (len > self->page_cap) {
        uint8_t *p = realloc(self->page, len);
        if (!p)
            return self->error = -ENOMEM;
        self->page = p, self->page_cap = len;
    }
    memcpy(self->page, og->header, (size_t) og->header_len);
    if (og->body_len)
        memcpy(self->page + og->header_len, og->body, (size_t) og->body_len);
    int r = self->sink(self->arg, self->page, len);
    if (r < 0)
        return self->error = r;
    return 0;
}

/* Pages out everything libogg holds. Plain ogg_stream_flush() would start a
 * new page every ~4 KiB; the flush policy already decided the page size. */
static int s_flush_ogg(oggopus_writer_t *self)
{
    ogg_page og;
    while (ogg_stream_flush_fill(&self->os, &og, 255 * 255)) {
        int r = s_emit(self, &og);
        if (r < 0)
            return r;
    }
    return 0;
}

static int s_packetin(oggopus_writer_t *self, const uint8_t *data, size_t len,
                      int64_t granule, bool bos, bool eos)
{
    ogg_packet op = {
        .packet = (unsigned char *) data,
        .bytes = (long) len,
        .b_o_s = bos,
        .e_o_s = eos,
        .granulepos = granule,
        .packetno = self->packetno++,
    };
    if (ogg_stream_packetin(&self->os, &op) < 0)
        return self->error = -ENOMEM;
    return 0;
}

static int s_write_headers(oggopus_writer_t *self)
{
    if (self->headers_done)
        return 0;
    uint8_t head[19];
    memcpy(head, "OpusHead", 8);
    head[8] = 1;
    head[9] = (uint8_t) self->cfg.channels;
    s_put16(head + 10, (uint16_t) self->cfg.preskip);
    s_put32(head + 12, self->cfg.input_rate);
    s_put16(head + 16, (uint16_t) (int16_t) self->cfg.output_gain);
    head[18] = 0;
    /* Each header on its own page, as RFC 7845 3 requires. */
    int r = s_packetin(self, head, sizeof head, 0, true, false);
    if (r == 0)
        r = s_flush_ogg(self);
    if (r < 0)
        return r;

    size_t vlen = strlen(self->vendor), len = 8 + 4 + vlen + 4;
    for (int i = 0; i < self->ncomments; i++)
        len += 4 + strlen(self->comments[i]);
    uint8_t *tags = malloc(len);
    if (!tags)
        return self->error = -ENOMEM;
    size_t off = 0;
    memcpy(tags, "OpusTags", 8), off += 8;
    s_put32(tags + off, (uint32_t) vlen), off += 4;
    memcpy(tags + off, self->vendor, vlen), off += vlen;
    s_put32(tags + off, (uint32_t) self->ncomments), off += 4;
    for (int i = 0; i < self->ncomments; i++) {
        size_t cl = strlen(self->comments[i]);
        s_put32(tags + off, (uint32_t) cl), off += 4;
        memcpy(tags + off, self->comments[i], cl), off += cl;
    }
    r = s_packetin(self, tags, len, 0, false, false);
    free(tags);
    if (r == 0)
        r = s_flush_ogg(self);
    if (r < 0)
        return r;
    self->headers_done = true;
    return 0;
}

/* Pages out the pending packets; the last one is flagged end-of-stream with
 * its granule reduced by end_trim when `eos`. */
static int s_flush_pending(oggopus_writer_t *self, bool eos, int end_trim)
{
    int64_t g = self->granule - self->pend_samples;
    for (int i = 0; i < self->npkts; i++) {
        g += self->pkts[i].samples;
        bool last = i == self->npkts - 1;
        int r = s_packetin(self, self->pend + self->pkts[i].off, self->pkts[i].len,
                           last && eos ? g - end_trim : g, false, last && eos);
        if (r < 0)
            return r;
    }
    self->npkts = 0;
    self->pend_len = 0;
    self->pend_samples = 0;
    self->pend_segs = 0;
    return s_flush_ogg(self);
}

/* Validates a packet and queues it without paging anything out. */
static int s_add_pending(oggopus_writer_t *self, const uint8_t *pkt, size_t len)
{
    if (self->error)
        return self->error;
    if (self->finished)
        return -EINVAL;
    int samples = opus_packet_duration(pkt, len, 48000);
    if (samples <= 0)
        return -EINVAL;
    int r = s_write_headers(self);
    if (r < 0)
        return r;
    /* A page holds at most 255 lacing values; paging out before that is hit
     * keeps every packet on one page (libogg would otherwise split it). */
    int segs = (int) (len / 255) + 1;
    if (self->npkts > 0 && self->pend_segs + segs > 255) {
        r = s_flush_pending(self, false, 0);
        if (r < 0)
            return r;
    }
    if (self->pend_len + len > self->pend_cap) {
        size_t cap = (self->pend_len + len) * 2;
        uint8_t *p = realloc(self->pend, cap);
        if (!p)
            return self->error = -ENOMEM;
        self->pend = p, self->pend_cap = cap;
    }
    if (self->npkts == self->pkts_cap) {
        int cap = self->pkts_cap ? self->pkts_cap * 2 : 16;
        void *p = realloc(self->pkts, (size_t) cap * sizeof *self->pkts);
        if (!p)
            return self->error = -ENOMEM;
        self->pkts = p, self->pkts_cap = cap;
    }
    memcpy(self->pend + self->pend_len, pkt, len);
    self->pkts[self->npkts].off = self->pend_len;
    self->pkts[self->npkts].len = len;
    self->pkts[self->npkts].samples = samples;
    self->npkts++;
    self->pend_len += len;
    self->pend_samples += samples;
    self->pend_segs += segs;
    self->granule += samples;
    return 0;
}

int oggopus_writer_write(oggopus_writer_t *self, const uint8_t *pkt, size_t len)
{
    if (!self)
        return -EINVAL;
    int r = s_add_pending(self, pkt, len);
    if (r < 0)
        return r;
    /* Flush by audio duration: the receiver can only use a page once it is
     * complete, so this bounds the latency the container adds. */
    if (self->pend_samples >= self->cfg.flush_ms * 48)
        return s_flush_pending(self, false, 0);
    return 0;
}

int oggopus_writer_write_eos(oggopus_writer_t *self, const uint8_t *pkt, size_t len, int end_trim)
{
    if (!self || end_trim < 0)
        return -EINVAL;
    int r = s_add_pending(self, pkt, len);
    if (r < 0)
        return r;
    if (end_trim >= self->pend_samples) {
        /* Undo the add: the caller may retry with a sane trim. */
        self->npkts--;
        self->pend_samples -= self->pkts[self->npkts].samples;
        self->granule -= self->pkts[self->npkts].samples;
        self->pend_len = self->pkts[self->npkts].off;
        self->pend_segs -= (int) (len / 255) + 1;
        return -EINVAL;
    }
    self->finished = true;
    return s_flush_pending(self, true, end_trim);
}

int oggopus_writer_flush(oggopus_writer_t *self)
{
    if (!self)
        return -EINVAL;
    if (self->error)
        return self->error;
    if (self->finished)
        return 0;
    int r = s_write_headers(self);
    if (r < 0)
        return r;
    return s_flush_pending(self, false, 0);
}

int oggopus_writer_finish(oggopus_writer_t *self)
{
    if (!self)
        return -EINVAL;
    if (self->error)
        return self->error;
    if (self->finished)
        return -EINVAL;
    int r = s_write_headers(self);
    if (r < 0)
        return r;
    self->finished = true;
    if (self->npkts > 0)
        return s_flush_pending(self, true, 0);

    /* Nothing left to flag: an end-of-stream page without packets. libogg
     * cannot make one, so build it: 27-byte header, no segments, granule -1
     * as for any page on which no packet ends. */
    uint8_t hdr[27] = { 'O', 'g', 'g', 'S', 0, 0x04 };
    memset(hdr + 6, 0xff, 8);
    s_put32(hdr + 14, self->cfg.serial);
    s_put32(hdr + 18, (uint32_t) self->os.pageno);
    ogg_page og = { .header = hdr, .header_len = sizeof hdr, .body = NULL, .body_len = 0 };
    ogg_page_checksum_set(&og);
    self->os.pageno++;
    return s_emit(self, &og);
}

int64_t oggopus_writer_position(const oggopus_writer_t *self)
{
    return self->granule;
}
