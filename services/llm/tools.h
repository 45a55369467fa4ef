/* tools — the functions the model may call (--tools FILE): a JSON array of
 *
 *     { "name": "get_weather", "description": "...",
 *       "parameters": { JSON schema of the arguments },
 *       "url": "http://127.0.0.1:8090/weather" }
 *
 * Each call's arguments (a JSON object) are POSTed to the tool's url; the
 * response body is the result the model reads. */
#ifndef VOXMESH_LLM_TOOLS_H
#define VOXMESH_LLM_TOOLS_H

#include "json.h"

#include <stddef.h>

#define TOOLS_MAX 64

typedef struct tools tools_t;

/* NULL with "PATH: what" in err. */
tools_t *tools_load(const char *path, char *err, size_t errlen);
tools_t *tools_parse(const char *text, size_t len, const char *name, char *err, size_t errlen);
void tools_destroy(tools_t **self_p);

size_t tools_count(const tools_t *self);

/* The "tools" value of a chat request: [{"type":"function","function":{...}}]. */
void tools_write(const tools_t *self, json_buf_t *out);

/* The webhook of a tool, or NULL when there is no tool of that name. */
const char *tools_url(const tools_t *self, const char *name);

#endif
