/* rules — the offline "agent" of the rules provider: a file of
 * `pattern -> reply` lines, matched against what the caller said. It is
 * not a language model; it makes the stack talk back without a network
 * (demos, tests, CI). Format (docs/llm.md has the full description):
 *
 *     # a comment
 *     * hello|hi|hey *                    -> Hello! I am the voxmesh demo agent.
 *     * my name is (name) * ; call me (name) -> Nice to meet you, {name}.
 *     * what time is it *                  -> It is {time}.
 *     * joke *                             -> Why did the ...?
 *     -> A second joke, used the next time (alternatives rotate).
 *     * story *                            -> Once upon a time ...
 *     + ... a continuation line, joined to the reply above with a space.
 *     *                                    -> You said: {transcript}.
 *
 * Patterns are matched word by word, case-insensitively, against the
 * transcript's words (letters, digits and apostrophes; everything else
 * separates words). `*` is any number of words (also none), `a|b` one word
 * of these, `(name)` captures one word, `(name...)` one or more (as many as
 * the rest of the pattern allows). `;` separates patterns of one rule. The
 * first rule with a matching pattern wins. Templates use `{name}` for a
 * capture, `{transcript}` (what was said, without its final punctuation),
 * `{time}` ("3:07 PM"), `{date}` ("Thursday, December 3"); `{{` and `}}`
 * for braces. Every problem is reported as "FILE:LINE: what". */
#ifndef VOXMESH_LLM_RULES_H
#define VOXMESH_LLM_RULES_H

#include <stddef.h>
#include <time.h>

#define RULES_MAX_RULES 1000
#define RULES_MAX_LINE 8192        /* bytes per line, and per reply */
#define RULES_MAX_TOKENS 32        /* words per pattern */
#define RULES_MAX_WORDS 128        /* transcript words considered */

typedef struct rules rules_t;

/* Reads a rules file. NULL with "PATH:LINE: what" (or "PATH: what") in err. */
rules_t *rules_load(const char *path, char *err, size_t errlen);

/* Parses rules text; `name` is used in error messages. */
rules_t *rules_parse(const char *text, size_t len, const char *name, char *err, size_t errlen);

void rules_destroy(rules_t **self_p);

size_t rules_count(const rules_t *self);

/* The reply to a transcript (malloc'd), or NULL when no rule matches.
 * `now` fills {time} and {date} (local time). *line (may be NULL) gets the
 * line of the rule that matched. Alternatives of a rule are used in turn. */
char *rules_reply(rules_t *self, const char *transcript, time_t now, int *line);

#endif
