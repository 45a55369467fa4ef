/* ivf — see ivf.h. */
#include "ivf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- reader -------------------------------------------------------------------- */

struct _ivf_reader_t {
    FILE *f;
    ivf_header_t hdr;
    uint8_t *buf;
    size_t cap;
    int error;               /* sticky after a malformed frame */
};

ivf_reader_t *ivf_reader_new(const char *path)
{
    if (!path) {
        errno = EINVAL;
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t h[32];
    /* The header length field says 32 in every file libvpx writes; a longer
     * header is skipped, a shorter one is not IVF. */
    if (fread(h, 1, 32, f) != 32 || memcmp(h, "DKIF", 4) || (h[6] | h[7] << 8) < 32
        || fseek(f, (h[6] | h[7] << 8), SEEK_SET) != 0) {
        fclose(f);
        errno = EBADMSG;
        return NULL;
    }
    ivf_reader_t *self = calloc(1, sizeof *self);
    if (!self) {
        fclose(f);
        errno = ENOMEM;
        return NULL;
    }
    self->f = f;
    memcpy(self->hdr.fourcc, h + 8, 4);
    self->hdr.width = h[12] | h[13] << 8;
    self->hdr.height = h[14] | h[15] << 8;
    self->hdr.rate = s_le32(h + 16);
    self->hdr.scale = s_le32(h + 20);
    self->hdr.frame_count = s_le32(h + 24);
    return self;
}

void ivf_reader_destroy(ivf_reader_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fclose((*self_p)->f);
    free((*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

const ivf_header_t *ivf_reader_header(const ivf_reader_t *self)
{
    return &self->hdr;
}

int ivf_reader_next(ivf_reader_t *self, const uint8_t **data, size_t *len, uint64_t *pts)
{
    if (!self || !data || !len)
        return -EINVAL;
    if (self->error)
        return self->error;
    uint8_t h[12];
    size_t n = fread(h, 1, 12, self->f);
    if (n == 0 && feof(self->f))
        return 0;
    if (n != 12)
        return self->error = ferror(self->f) ? -EIO : -EBADMSG;
    uint32_t size = s_le32(h);
    if (size > IVF_MAX_FRAME)
        return self->error = -EFBIG;
    if (size > self->cap) {
        uint8_t *b = realloc(self->buf, size);
        if (!b)
            return -ENOMEM;
        self->buf = b, self->cap = size;
    }
    if (fread(self->buf, 1, size, self->f) != size)
        return self->error = ferror(self->f) ? -EIO : -EBADMSG;
    *data = self->buf;
    *len = size;
    if (pts)
        *pts = (uint64_t) s_le32(h + 4) | (uint64_t) s_le32(h + 8) << 32;
    return 1;
}

/* ---- writer -------------------------------------------------------------------- */

struct _ivf_writer_t {
    FILE *f;
    uint32_t frames;
    int error;
};

ivf_writer_t *ivf_writer_new(const char *path, const char *fourcc, int width, int height,
                             uint32_t rate, uint32_t scale)
{
    if (!path || !fourcc || strlen(fourcc) != 4 || width < 0 || width > 65535 || height < 0
        || height > 65535 || rate == 0 || scale == 0) {
        errno = EINVAL;
        return NULL;
    }
    ivf_writer_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->f = fopen(path, "wb");
    if (!self->f) {
        int e = errno;
        free(self);
        errno = e;
        return NULL;
    }
    uint8_t h[32] = { 'D', 'K', 'I', 'F' };
    s_put16(h + 4, 0);
    s_put16(h + 6, 32);
    memcpy(h + 8, fourcc, 4);
    s_put16(h + 12, (uint16_t) width);
    s_put16(h + 14, (uint16_t) height);
    s_put32(h + 16, rate);
    s_put32(h + 20, scale);
    s_put32(h + 24, 0); /* frame count: patched by close */
    if (fwrite(h, 1, 32, self->f) != 32) {
        fclose(self->f);
        free(self);
        errno = EIO;
        return NULL;
    }
    return self;
}

int ivf_writer_write(ivf_writer_t *self, const uint8_t *data, size_t len, uint64_t pts)
{
    if (!self || !self->f || (!data && len) || len > IVF_MAX_FRAME)
        return -EINVAL;
    if (self->error)
        return self->error;
    uint8_t h[12];
    s_put32(h, (uint32_t) len);
    s_put32(h + 4, (uint32_t) pts);
    s_put32(h + 8, (uint32_t) (pts >> 32));
    if (fwrite(h, 1, 12, self->f) != 12 || fwrite(data, 1, len, self->f) != len)
        return self->error = -EIO;
    self->frames++;
    return 0;
}

int ivf_writer_close(ivf_writer_t *self)
{
    if (!self || !self->f)
        return -EINVAL;
    int r = self->error;
    uint8_t n[4];
    s_put32(n, self->frames);
    if (fseek(self->f, 24, SEEK_SET) != 0 || fwrite(n, 1, 4, self->f) != 4)
        r = -EIO;
    if (fclose(self->f) != 0)
        r = -EIO;
    self->f = NULL;
    return r;
}

void ivf_writer_destroy(ivf_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->f)
        ivf_writer_close(*self_p);
    free(*self_p);
    *self_p = NULL;
}
