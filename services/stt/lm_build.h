/* lm_build — a domain language model from example sentences, for the
 * offline recogniser.
 *
 * PocketSphinx with its generic 27 MB English model (deploy default off)
 * transcribes open speech; an agent's callers mostly say a few kinds of
 * things, and a small trigram model of them, interpolated with nothing,
 * cuts the word error rate several-fold (docs/stt.md has the figures) and
 * the search cost with it. This writes such a model in ARPA format from a
 * text file of sentences (one per line, '#' comments), keeping only words
 * the pronunciation dictionary knows.
 *
 * Smoothing: absolute discounting (D = 0.5) with back-off weights computed
 * so each history's probabilities sum to one (Katz-style back-off). */
#ifndef VOXMESH_STT_LM_BUILD_H
#define VOXMESH_STT_LM_BUILD_H

#include <stddef.h>

/* Reads sentences from `text_path`, the known words from the dictionary at
 * `dict_path` (CMU format: "word PH ON ES", variants "word(2) ..."), writes
 * the ARPA model to `arpa_path`. Returns the number of sentences used (> 0)
 * or -1 with a message in err ("file:line: ..." where it applies). Words
 * not in the dictionary are reported in err as a warning only when
 * `unknown` is non-NULL: *unknown receives their count. */
int lm_build_arpa(const char *text_path, const char *dict_path, const char *arpa_path, size_t *unknown,
                  char *err, size_t errlen);

#endif
