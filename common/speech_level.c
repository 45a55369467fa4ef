/* speech_level — see speech_level.h. */
#include "speech_level.h"

#include <math.h>
#include <stdlib.h>

#define LEVELS 16           /* thresholds 2^0 .. 2^15 on the envelope (16-bit samples) */
#define TIME_CONSTANT_S 0.03
#define HANGOVER_S 0.2
#define MARGIN_DB 15.9

double speech_level_db(const int16_t *x, size_t n, uint32_t rate, double *activity)
{
    if (activity) *activity = 0;
    if (!x || !n || !rate) return -INFINITY;
    double g = exp(-1.0 / ((double)rate * TIME_CONSTANT_S));
    size_t hangover = (size_t)(HANGOVER_S * rate);
    size_t active[LEVELS] = { 0 }, hang[LEVELS];
    for (int j = 0; j < LEVELS; j++) hang[j] = hangover;
    double p = 0, q = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        sq += v * v;
        p = g * p + (1 - g) * fabs(v);
        q = g * q + (1 - g) * p;
        for (int j = 0; j < LEVELS; j++) {
            if (q >= (double)(1u << j)) active[j]++, hang[j] = 0;
            else if (hang[j] < hangover) active[j]++, hang[j]++;
            else break;   /* q is below every higher threshold too, and their hangovers only grow */
        }
    }
    /* The level is where the active power A_j over threshold j stands the
     * margin above the threshold C_j: A_j - C_j falls as j rises; find the
     * crossing and interpolate between its two sides. */
    double prev_a = 0, prev_d = 0;
    for (int j = 0; j < LEVELS; j++) {
        if (!active[j]) break;
        double a = 10 * log10(sq / (double)active[j]), d = a - 20 * log10((double)(1u << j));
        if (d <= MARGIN_DB) {
            double level = j == 0 ? a : prev_a + (a - prev_a) * (prev_d - MARGIN_DB) / (prev_d - d);
            if (activity) *activity = sq / pow(10, level / 10) / (double)n;
            return level;
        }
        prev_a = a, prev_d = d;
    }
    if (!active[0]) return -INFINITY;
    if (activity) *activity = sq / pow(10, prev_a / 10) / (double)n;
    return prev_a;
}

int speech_level_add_pink(int16_t *x, size_t n, uint32_t rate, double snr_db, uint32_t seed)
{
    double level = speech_level_db(x, n, rate, NULL);
    if (!isfinite(level)) return -1;
    float *nz = malloc(n * sizeof *nz);
    if (!nz) return -1;
    double b0 = 0, b1 = 0, b2 = 0, np = 0;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        double w = (seed >> 8) / 8388608.0 - 1.0;
        b0 = 0.99765 * b0 + w * 0.0990460;
        b1 = 0.96300 * b1 + w * 0.2965164;
        b2 = 0.57000 * b2 + w * 1.0526913;
        nz[i] = (float)(b0 + b1 + b2 + w * 0.1848);
        np += (double)nz[i] * nz[i];
    }
    double gain = np > 0 ? sqrt(pow(10, (level - snr_db) / 10) / (np / (double)n)) : 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i] + gain * nz[i];
        x[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : lrint(v));
    }
    free(nz);
    return 0;
}
