/* oggopus_fuzz — arbitrary bytes into the Ogg Opus reader (common/oggopus.h).
 *
 * Input layout: byte 0 picks the feed piece size (low 7 bits + 1, so the
 * streaming paths see pages split anywhere) and, with its top bit set, asks
 * for every Ogg page CRC in the rest to be fixed up first: random mutations
 * almost never keep a CRC valid, and without this the fuzzer would only ever
 * test the CRC check instead of the header, tag and granule parsing behind it.
 *
 * Besides "no crash, no leak, no UB" it checks the reader's promises about
 * each packet and decodes the packets, as the codec daemon would. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ogg/ogg.h>

#include "oggopus.h"
#include "opus_codec.h"

/* Recomputes the CRC of every complete page found in buf. */
static void s_fix_crcs(uint8_t *buf, size_t len)
{
    for (size_t off = 0; off + 27 <= len; off++) {
        if (memcmp(buf + off, "OggS", 4))
            continue;
        size_t nsegs = buf[off + 26];
        if (off + 27 + nsegs > len)
            break;
        size_t body = 0;
        for (size_t i = 0; i < nsegs; i++)
            body += buf[off + 27 + i];
        if (off + 27 + nsegs + body > len)
            break;
        ogg_page og = { .header = buf + off, .header_len = (long) (27 + nsegs),
                        .body = buf + off + 27 + nsegs, .body_len = (long) body };
        ogg_page_checksum_set(&og);
        off += 27 + nsegs + body - 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = (size_t) (data[0] & 0x7f) + 1;
    size_t len = size - 1;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, len);
    if (data[0] & 0x80)
        s_fix_crcs(buf, len);

    oggopus_reader_t *rd = oggopus_reader_new();
    opus_dec_t *dec = NULL;
    static int16_t pcm[OPUS_CODEC_MAX_FRAMES_48K * 2];
    int r = 0, decodes = 0;
    for (size_t off = 0; off < len && r >= 0; off += piece) {
        r = oggopus_reader_feed(rd, buf + off, len - off < piece ? len - off : piece);
        oggopus_packet_t p;
        while (r >= 0 && (r = oggopus_reader_next(rd, &p)) == 1) {
            const oggopus_head_t *h = oggopus_reader_head(rd);
            if (!h || !p.data || p.len == 0 || p.samples <= 0 || p.samples > OPUS_CODEC_MAX_FRAMES_48K
                || p.discard_start < 0 || p.discard_end < 0 || p.discard_start + p.discard_end > p.samples
                || h->channels < 1 || oggopus_reader_vendor(rd) == NULL)
                abort();
            for (int i = 0; i < oggopus_reader_comment_count(rd); i++)
                if (!oggopus_reader_comment(rd, i))
                    abort();
            if (!dec && h->channels <= 2)
                dec = opus_dec_new(48000, h->channels);
            /* Decoding is the slow part; a few packets per input suffice. */
            if (dec && decodes++ < 8) {
                int n = opus_dec_decode(dec, p.data, p.len, pcm, OPUS_CODEC_MAX_FRAMES_48K);
                if (n != p.samples)
                    abort();
            }
        }
    }
    if (r >= 0)
        r = oggopus_reader_finish(rd);
    if (r < 0 && oggopus_reader_strerror(rd)[0] == '\0' && r != -EINVAL)
        abort(); /* every reader error comes with a reason */
    opus_dec_destroy(&dec);
    oggopus_reader_destroy(&rd);
    free(buf);
    return 0;
}
