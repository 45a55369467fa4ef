/* wer — word error rate: the word-level edit distance between a reference
 * and a hypothesis (substitutions + deletions + insertions), counted over
 * lower-cased words with punctuation dropped, so "Hello, world!" and
 * "hello world" match. */
#ifndef VOXMESH_STT_WER_H
#define VOXMESH_STT_WER_H

#include <stddef.h>

/* Adds one pair to the totals: *errors += edit distance, *words += the
 * reference's word count. Returns the pair's edit distance. */
size_t wer_add(const char *reference, const char *hypothesis, size_t *errors, size_t *words);

#endif
