/* noisemix — adds pink noise to a WAV at an SNR against the speech's
 * active level (ITU-T P.56, common/speech_level.h), as wer_test does to
 * its corpus, so that tests/stt.sh's noisy pieces are made the same way.
 *
 *   build/tests/tools/noisemix IN.wav OUT.wav SNR_DB [SEED]
 *
 * IN: 16-bit mono; the level is measured on IN itself, so pad IN with
 * silence before, not after. Prints the level and the activity. */
#include "pcm.h"
#include "speech_level.h"
#include "wav.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s IN.wav OUT.wav SNR_DB [SEED]\n", argv[0]);
        return 2;
    }
    char *end;
    double snr = strtod(argv[3], &end);
    if (*end || end == argv[3]) {
        fprintf(stderr, "noisemix: SNR_DB '%s' is not a number\n", argv[3]);
        return 2;
    }
    unsigned long seed = argc == 5 ? strtoul(argv[4], NULL, 10) : 12345;
    pcm_t *pcm = NULL;
    const char *why = NULL;
    if (wav_read_file(argv[1], &pcm, &why) < 0) {
        fprintf(stderr, "noisemix: %s: %s\n", argv[1], why ? why : "cannot read");
        return 1;
    }
    if (pcm_channels(pcm) != 1 || pcm_format(pcm) != PCM_S16) {
        fprintf(stderr, "noisemix: %s: 16-bit mono only (%u channels)\n", argv[1], pcm_channels(pcm));
        pcm_destroy(&pcm);
        return 1;
    }
    double act;
    double level = speech_level_db(pcm_data(pcm), pcm_frames(pcm), pcm_rate(pcm), &act);
    if (speech_level_add_pink(pcm_data(pcm), pcm_frames(pcm), pcm_rate(pcm), snr, (uint32_t)seed) < 0) {
        fprintf(stderr, "noisemix: %s: no speech to set the noise against\n", argv[1]);
        pcm_destroy(&pcm);
        return 1;
    }
    int rc = wav_write_file(argv[2], pcm);
    pcm_destroy(&pcm);
    if (rc < 0) {
        fprintf(stderr, "noisemix: cannot write %s\n", argv[2]);
        return 1;
    }
    printf("level %.1f dB (%.1f dBFS), activity %.0f %%, noise %.1f dB below\n", level, level - 90.31, 100 * act, snr);
    return 0;
}
