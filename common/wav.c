/* wav — see wav.h. */
#include "wav.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { S_TAG_PCM = 1, S_TAG_FLOAT = 3, S_TAG_EXTENSIBLE = 0xFFFE };

/* Streaming writers (ffmpeg to a pipe) cannot seek back to fill in sizes and
 * leave this in the data chunk: it means "until the end of the file". */
#define S_SIZE_UNKNOWN 0xFFFFFFFFu

typedef struct {
    uint16_t tag;           /* after resolving WAVE_FORMAT_EXTENSIBLE */
    uint16_t channels;
    uint32_t rate;
    uint16_t block_align;
    uint16_t bits;
} s_fmt_t;

static uint16_t s_u16(const uint8_t *p) { return (uint16_t) (p[0] | p[1] << 8); }

static uint32_t s_u32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static int s_fail(const char **why, const char *reason, int rc)
{
    if (why) *why = reason;
    return rc;
}

/* ---- reading ------------------------------------------------------------------ */

/* The sub-format of WAVE_FORMAT_EXTENSIBLE is a GUID whose first two bytes
 * are the plain format tag and whose rest is this fixed suffix. */
static const uint8_t s_guid_suffix[14] = {
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71
};

static int s_resolve_extensible(const uint8_t *p, uint32_t size, s_fmt_t *fmt, const char **why)
{
    if (size < 40 || s_u16(p + 16) < 22)
        return s_fail(why, "WAVE_FORMAT_EXTENSIBLE fmt chunk too small", -EINVAL);
    if (memcmp(p + 26, s_guid_suffix, sizeof s_guid_suffix))
        return s_fail(why, "unsupported WAVE_FORMAT_EXTENSIBLE sub-format", -ENOTSUP);
    if (s_u16(p + 18) != fmt->bits)
        return s_fail(why, "valid bits per sample differ from container size (packed 20/24-bit?)", -ENOTSUP);
    fmt->tag = s_u16(p + 24);
    return 0;
}

static int s_check_fmt(const s_fmt_t *fmt, const char **why)
{
    if (fmt->channels == 0) return s_fail(why, "zero channels", -EINVAL);
    if (fmt->rate == 0) return s_fail(why, "zero sample rate", -EINVAL);
    if (fmt->channels > PCM_CHANNELS_MAX) return s_fail(why, "more than 8 channels", -ENOTSUP);
    if (fmt->rate < PCM_RATE_MIN || fmt->rate > PCM_RATE_MAX)
        return s_fail(why, "sample rate outside 8000..192000 Hz", -ENOTSUP);
    if (!(fmt->tag == S_TAG_PCM && fmt->bits == 16) && !(fmt->tag == S_TAG_FLOAT && fmt->bits == 32))
        return s_fail(why, "only 16-bit integer PCM and 32-bit float are supported", -ENOTSUP);
    if (fmt->block_align != fmt->channels * fmt->bits / 8)
        return s_fail(why, "block align does not match channels and bits per sample", -EINVAL);
    return 0;
}

static int s_parse_fmt(const uint8_t *p, uint32_t size, s_fmt_t *fmt, const char **why)
{
    if (size < 16) return s_fail(why, "fmt chunk smaller than 16 bytes", -EINVAL);
    fmt->tag = s_u16(p);
    fmt->channels = s_u16(p + 2);
    fmt->rate = s_u32(p + 4);
    fmt->block_align = s_u16(p + 12);
    fmt->bits = s_u16(p + 14);
    if (fmt->tag == S_TAG_EXTENSIBLE) {
        int rc = s_resolve_extensible(p, size, fmt, why);
        if (rc) return rc;
    }
    return s_check_fmt(fmt, why);
}

static int s_decode_data(const s_fmt_t *fmt, const uint8_t *p, size_t size, pcm_t **out, const char **why)
{
    if (size % fmt->block_align)
        return s_fail(why, "data chunk size is not a whole number of frames", -EINVAL);
    pcm_format_t pf = fmt->tag == S_TAG_PCM ? PCM_S16 : PCM_F32;
    *out = pcm_from_bytes(fmt->rate, fmt->channels, pf, p, size);
    return *out ? 0 : s_fail(why, "out of memory", -ENOMEM);
}

int wav_read_mem(const void *data, size_t len, pcm_t **out, const char **why)
{
    const uint8_t *p = data;
    *out = NULL;
    if (!p || len < 12) return s_fail(why, "too short for a RIFF/WAVE header", -EINVAL);
    if (!memcmp(p, "RF64", 4)) return s_fail(why, "RF64 (64-bit WAV) is not supported", -ENOTSUP);
    if (memcmp(p, "RIFF", 4) || memcmp(p + 8, "WAVE", 4))
        return s_fail(why, "not a RIFF/WAVE file", -EINVAL);
    s_fmt_t fmt = { 0 };
    bool have_fmt = false;
    /* The RIFF size is often wrong in the wild and is not needed: chunks are
     * bounded by the bytes actually present instead. */
    for (size_t off = 12; len - off >= 8;) {
        const uint8_t *id = p + off;
        uint32_t size = s_u32(p + off + 4);
        size_t body = off + 8, avail = len - body;
        if (!memcmp(id, "data", 4)) {
            if (!have_fmt) return s_fail(why, "data chunk before fmt chunk", -EINVAL);
            if (size == S_SIZE_UNKNOWN) size = (uint32_t) (avail - avail % fmt.block_align);
            if (size > avail) return s_fail(why, "data chunk larger than the file (truncated?)", -EINVAL);
            return s_decode_data(&fmt, p + body, size, out, why);
        }
        if (size > avail) return s_fail(why, "chunk larger than the file (truncated?)", -EINVAL);
        if (!memcmp(id, "fmt ", 4)) {
            int rc = s_parse_fmt(p + body, size, &fmt, why);
            if (rc) return rc;
            have_fmt = true;
        }
        off = body + size;
        if (size & 1) off++;        /* chunks are padded to even sizes */
        if (off > len) break;
    }
    return s_fail(why, have_fmt ? "no data chunk" : "no fmt chunk", -EINVAL);
}

static int s_read_all(int fd, size_t size, uint8_t *buf)
{
    for (size_t got = 0; got < size;) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n == 0) return -EIO;   /* file shrank while reading */
        got += (size_t) n;
    }
    return 0;
}

int wav_read_file(const char *path, pcm_t **out, const char **why)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return s_fail(why, "cannot open file", -errno);
    struct stat st;
    int rc = fstat(fd, &st) ? -errno : 0;
    if (!rc && (!S_ISREG(st.st_mode) || (uint64_t) st.st_size > WAV_FILE_MAX)) rc = -EFBIG;
    uint8_t *buf = rc ? NULL : malloc(st.st_size ? (size_t) st.st_size : 1);
    if (!rc && !buf) rc = -ENOMEM;
    if (!rc) rc = s_read_all(fd, (size_t) st.st_size, buf);
    close(fd);
    if (rc) {
        free(buf);
        return s_fail(why, rc == -EFBIG ? "not a regular file or larger than 4 GiB" : "cannot read file", rc);
    }
    rc = wav_read_mem(buf, (size_t) st.st_size, out, why);
    free(buf);
    return rc;
}

/* ---- writing ------------------------------------------------------------------ */

static uint8_t *s_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    return p + 2;
}

static uint8_t *s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t) (v >> (8 * i));
    return p + 4;
}

static uint8_t *s_put_id(uint8_t *p, const char *id)
{
    memcpy(p, id, 4);
    return p + 4;
}

/* Float files carry the extended fmt (cbSize) and a fact chunk, as the
 * format requires for anything but integer PCM. */
static uint8_t *s_put_header(uint8_t *p, const pcm_t *pcm, size_t total, size_t data_len)
{
    bool is_float = pcm_format(pcm) == PCM_F32;
    uint16_t ch = (uint16_t) pcm_channels(pcm), bits = is_float ? 32 : 16;
    uint16_t align = (uint16_t) (ch * bits / 8);
    p = s_put32(s_put_id(p, "RIFF"), (uint32_t) (total - 8));
    p = s_put32(s_put_id(s_put_id(p, "WAVE"), "fmt "), is_float ? 18 : 16);
    p = s_put16(s_put16(p, is_float ? S_TAG_FLOAT : S_TAG_PCM), ch);
    p = s_put32(s_put32(p, pcm_rate(pcm)), pcm_rate(pcm) * align);
    p = s_put16(s_put16(p, align), bits);
    if (is_float) p = s_put32(s_put_id(s_put16(p, 0), "fact"), 4);
    if (is_float) p = s_put32(p, (uint32_t) pcm_frames(pcm));
    return s_put32(s_put_id(p, "data"), (uint32_t) data_len);
}

int wav_write_mem(const pcm_t *pcm, void **data, size_t *len)
{
    size_t header = pcm_format(pcm) == PCM_F32 ? 12 + 8 + 18 + 12 + 8 : 12 + 8 + 16 + 8;
    size_t data_len = pcm_bytes(pcm);
    if (data_len > UINT32_MAX - header) return -EFBIG;
    uint8_t *buf = malloc(header + data_len);
    if (!buf) return -ENOMEM;
    uint8_t *p = s_put_header(buf, pcm, header + data_len, data_len);
    pcm_to_bytes(pcm, p, data_len);
    *data = buf;
    *len = header + data_len;
    return 0;
}

int wav_write_file(const char *path, const pcm_t *pcm)
{
    void *buf;
    size_t len;
    int rc = wav_write_mem(pcm, &buf, &len);
    if (rc) return rc;
    FILE *f = fopen(path, "wbe");
    if (!f) rc = -errno;
    else if (fwrite(buf, 1, len, f) != len) rc = -EIO;
    if (f && fclose(f) && !rc) rc = -errno;
    free(buf);
    return rc;
}
