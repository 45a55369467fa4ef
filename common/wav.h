/* wav — RIFF/WAVE files to and from pcm_t (see docs/pcm.md).
 *
 * Reads 16-bit integer PCM (format 1) and 32-bit IEEE float (format 3), also
 * when wrapped in WAVE_FORMAT_EXTENSIBLE; unknown chunks (LIST, fact, ...)
 * are skipped. Input is untrusted: every size is checked against the bytes
 * that are really there, and a malformed or unsupported file yields an error
 * code plus a static sentence saying why, never a crash or a huge allocation.
 * Writes 16-bit PCM or 32-bit float, following the sample format of the pcm_t. */
#ifndef VOXMESH_WAV_H
#define VOXMESH_WAV_H

#include "pcm.h"

/* Largest file wav_read_file accepts (RIFF sizes are 32-bit anyway). */
#define WAV_FILE_MAX ((size_t) UINT32_MAX + 8)

/* Parses a WAV image. On success returns 0 and stores a new pcm_t in *out.
 * On failure returns -EINVAL (malformed), -ENOTSUP (valid WAV in a format we
 * do not take: 24-bit, A-law, 9 channels, ...) or -ENOMEM, leaves *out NULL
 * and, when why is not NULL, points *why at the reason. */
int wav_read_mem(const void *data, size_t len, pcm_t **out, const char **why);

/* Same for a file; also returns -errno of open/read (*why: "cannot open
 * file", ...). */
int wav_read_file(const char *path, pcm_t **out, const char **why);

/* Encodes pcm as a WAV image in a malloc'd buffer (*data, *len; the caller
 * frees it). Returns 0, -EFBIG when over 4 GiB, or -ENOMEM. */
int wav_write_mem(const pcm_t *pcm, void **data, size_t *len);

/* Writes pcm to path (created or truncated). Returns 0 or -errno. */
int wav_write_file(const char *path, const pcm_t *pcm);

#endif
