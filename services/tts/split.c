/* split — see split.h. */
#include "split.h"

#include <ctype.h>
#include <stdbool.h>

static bool s_clause_break(const char *s, size_t i)
{
    return (s[i] == ',' || s[i] == ';' || s[i] == ':' || s[i] == ')') && isspace((unsigned char)s[i + 1]);
}

/* Where to end a piece of a text longer than max (text[max] exists). */
static size_t s_split_at(const char *text, size_t max)
{
    for (size_t i = max - 1; i >= max / 3 && i > 0; i--)
        if (s_clause_break(text, i)) return i + 1;
    for (size_t i = max; i > max / 3; i--)
        if (isspace((unsigned char)text[i])) return i;
    size_t i = max;
    while (i > 1 && ((unsigned char)text[i] & 0xC0) == 0x80) i--;   /* not inside a character */
    return i;
}

int tts_split(const char *text, size_t len, size_t max_chars, tts_piece_fn *fn, void *arg)
{
    if (max_chars < 8) max_chars = 8;
    while (len > 0) {
        while (len > 0 && isspace((unsigned char)*text)) text++, len--;
        while (len > 0 && isspace((unsigned char)text[len - 1])) len--;
        if (len == 0) break;
        size_t n = len <= max_chars ? len : s_split_at(text, max_chars);
        size_t end = n;
        while (end > 0 && isspace((unsigned char)text[end - 1])) end--;
        int rc = fn(text, end, arg);
        if (rc < 0) return rc;
        text += n;
        len -= n;
    }
    return 0;
}
