/* ivf — the IVF container (libvpx's simple file format for VP8/VP9 frames):
 * a 32-byte file header ("DKIF", fourcc, size, time base, frame count), then
 * per frame a 12-byte header (32-bit size, 64-bit pts) and the frame. All
 * little endian.
 *
 * Errors are negative errno values: -EBADMSG malformed file, -EFBIG frame
 * over IVF_MAX_FRAME, -EIO read/write failure, -EINVAL bad argument. Nothing
 * here logs. */
#ifndef VOXMESH_IVF_H
#define VOXMESH_IVF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest frame the reader accepts (a 4K keyframe is a few MB at most). */
#define IVF_MAX_FRAME (16u << 20)

typedef struct {
    char fourcc[5];          /* "VP80", NUL-terminated */
    int width;
    int height;
    uint32_t rate;           /* time base denominator: pts unit is scale/rate s */
    uint32_t scale;          /* time base numerator */
    uint32_t frame_count;    /* as the header says (0 when the writer did not finish) */
} ivf_header_t;

/* ---- reader -------------------------------------------------------------------- */

typedef struct _ivf_reader_t ivf_reader_t;

/* Opens `path` and reads its header. Returns NULL with errno set: the fopen
 * errno, EBADMSG for a file that is not IVF. */
ivf_reader_t *ivf_reader_new(const char *path);

/* Closes the file and sets *self_p to NULL. */
void ivf_reader_destroy(ivf_reader_t **self_p);

const ivf_header_t *ivf_reader_header(const ivf_reader_t *self);

/* Reads the next frame. Returns 1 with *data (valid until the next call),
 * *len and *pts (may be NULL) filled; 0 at a clean end of file; -EBADMSG for
 * a truncated frame, -EFBIG, -EIO. */
int ivf_reader_next(ivf_reader_t *self, const uint8_t **data, size_t *len, uint64_t *pts);

/* ---- writer -------------------------------------------------------------------- */

typedef struct _ivf_writer_t ivf_writer_t;

/* Creates `path` and writes a header for `fourcc` ("VP80"), the frame size
 * and the time base scale/rate (e.g. 1/30 for pts counted in frames at
 * 30 fps). Returns NULL with errno set. */
ivf_writer_t *ivf_writer_new(const char *path, const char *fourcc, int width, int height,
                             uint32_t rate, uint32_t scale);

/* Appends one frame. 0 or a negative error. */
int ivf_writer_write(ivf_writer_t *self, const uint8_t *data, size_t len, uint64_t pts);

/* Patches the frame count into the header and closes the file. 0 or -EIO
 * (the data may not be on disk). */
int ivf_writer_close(ivf_writer_t *self);

/* Closes the file if ivf_writer_close() was not called (errors are lost),
 * frees, and sets *self_p to NULL. */
void ivf_writer_destroy(ivf_writer_t **self_p);

#endif
