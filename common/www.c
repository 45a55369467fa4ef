/* www — see www.h. */
#include "www.h"
#include <string.h>

const www_file_t *www_find(const www_file_t *table, const char *path)
{
    if (!table || !path) return NULL;
    if (!strcmp(path, "/") || !*path) path = "/index.html";
    for (const www_file_t *f = table; f->path; f++)
        if (!strcmp(f->path, path)) return f;
    return NULL;
}
