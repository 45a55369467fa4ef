/* compare — how much of one recording is in another: the peak of their
 * normalized cross-correlation and its lag. `voxmesh-client --compare
 * sent.wav reply.wav` uses it to check that the parrot stack sent back the
 * audio it was given; with the reply recorded on the client's timeline
 * (recorder.h) the lag is the round-trip latency. */
#ifndef VOXMESH_CLIENT_COMPARE_H
#define VOXMESH_CLIENT_COMPARE_H

#include <stddef.h>
#include <stdint.h>

/* Both signals are compared at this rate (speech band, and cheap). */
#define COMPARE_RATE 8000

typedef struct {
    double peak;                /* max over lags of sum(a*b) / sqrt(Ea * Eb), -1..1 */
    double lag_ms;              /* where b best matches a: b[t + lag] ~ a[t] */
    /* The same per COMPARE_WINDOW_MS window of a (windows with sound only),
     * each at its own best lag: the medians over the windows. A reply whose
     * latency changed midway (the sender's clock jumped after an underrun)
     * scores low in `peak` but still high here. */
    double window_peak;
    double window_lag_ms;
    int windows;                /* windows of a that had sound */
} compare_result_t;

#define COMPARE_WINDOW_MS 500

/* Cross-correlates mono float signals a and b (same rate) for lags of
 * -max_lag..max_lag samples, normalized by the total energies (so the peak
 * is at most 1 and a partial match scores lower), and window by window
 * (normalized by the energies of the window and of the part of b it is
 * compared with). Returns 0, or -1 when a signal is empty or silent. */
int compare_signals(const float *a, size_t na, const float *b, size_t nb, int rate,
                    int max_lag, compare_result_t *out);

/* Reads two WAV files and compares them at COMPARE_RATE with lags up to
 * max_lag_ms either way. Returns 0, or -1 with a reason in err. */
int compare_files(const char *a_path, const char *b_path, int max_lag_ms,
                  compare_result_t *out, char *err, size_t err_size);

#endif
