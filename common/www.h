/* www — static files embedded in a binary at build time (files in services/D/www/
 * become D_www_files[], see scripts/embed-www.sh). */
#ifndef VOXMESH_WWW_H
#define VOXMESH_WWW_H
#include <stddef.h>

typedef struct {
    const char *path;           /* "/index.html" */
    const unsigned char *data;
    size_t len;
    const char *content_type;
} www_file_t;

/* Finds `path` in a NULL-terminated table; "/" finds "/index.html". */
const www_file_t *www_find(const www_file_t *table, const char *path);

#endif
