/* response — what a cloud provider answered, read as untrusted input
 * (through common/json, which is strict and bounded): the transcript and
 * its confidence from a 200, the message of an error response. */
#ifndef VOXMESH_STT_RESPONSE_H
#define VOXMESH_STT_RESPONSE_H

#include <stddef.h>

typedef enum {
    STT_WIRE_OPENAI,     /* {"text": "..."} (response_format=json) */
    STT_WIRE_DEEPGRAM    /* {"results": {"channels": [{"alternatives": [{"transcript", "confidence"}]}]}} */
} stt_wire_t;

/* Reads a 200 response body. On success returns 0 with the transcript in
 * out (always terminated: control characters become spaces, runs of white
 * space one space, no space at either end, cut to size - 1 bytes on a
 * character boundary; "" when the provider heard nothing) and *confidence
 * in [0, 1] (0 when the provider gives none). Returns -1 with why in err
 * when the body is not what the wire format says. */
int stt_response_parse(stt_wire_t wire, const char *body, size_t len, char *out, size_t size, float *confidence,
                       char *err, size_t errlen);

/* "HTTP 429: Rate limit reached" from an error response (the provider's
 * message when its JSON has one, else the start of the body), printable
 * ASCII on one line, with every occurrence of key (if at least 4 bytes)
 * masked: providers sometimes echo what they were sent. */
void stt_response_error(long status, const char *body, size_t len, const char *key, char *out, size_t size);

#endif
