/* zpl — a parser for the ZeroMQ Property Language (rfc.zeromq.org/spec:4).
 *
 *     # comment
 *     bus
 *         pub = ipc://@voxmesh.pub    # comment after a value
 *         sub = "ipc://@voxmesh.sub"
 *     flag
 *
 * One property per line: a name, optionally `= value`. Children are indented
 * by exactly 4 spaces more than their parent. Values run to the end of the
 * line or to a '#' (trailing blanks dropped); quote them with "..." or '...'
 * to keep a '#' or leading/trailing blanks. Names use [A-Za-z0-9$-_@.&+/].
 * Line endings are LF, CR or CRLF. Tabs are refused in indentation, because
 * their width is a guess and the tree's shape depends on it.
 *
 * Unlike CZMQ's zconfig, every node keeps the line it came from, so callers
 * can report "FILE:LINE: reason" for a semantic error too, and the parser
 * has hard limits because it also reads other programs' output. */
#ifndef VOXMESH_ZPL_H
#define VOXMESH_ZPL_H

#include <stddef.h>
#include <stdio.h>

#define ZPL_MAX_DEPTH 32            /* nesting levels below the root */
#define ZPL_MAX_LINE  4096          /* bytes per line, without the line ending */
#define ZPL_MAX_NODES 100000        /* properties per document */
#define ZPL_MAX_FILE  (16 << 20)    /* bytes zpl_load reads */

typedef struct zpl_node zpl_node_t;

/* Parses `len` bytes of `text`. `name` (may be NULL) names the input in error
 * messages. Returns the root node (no name, no value, line 0) whose children
 * are the top-level properties, or NULL with *err (if err is not NULL) set to
 * a malloc'd "NAME:LINE: reason" that the caller frees. */
zpl_node_t *zpl_parse(const char *text, size_t len, const char *name, char **err);

/* Reads and parses the file at `path`; errors as zpl_parse, named by path. */
zpl_node_t *zpl_load(const char *path, char **err);

/* Destroys a tree returned by zpl_parse/zpl_load and sets *self_p to NULL. */
void zpl_destroy(zpl_node_t **self_p);

/* The node's name; "" for the root. */
const char *zpl_name(const zpl_node_t *self);

/* The node's value, or NULL when the line had no "= value". */
const char *zpl_value(const zpl_node_t *self);

/* The 1-based line the node was on; 0 for the root. */
int zpl_line(const zpl_node_t *self);

/* The input's name, as given to zpl_parse/zpl_load. */
const char *zpl_source(const zpl_node_t *self);

/* First child, next sibling and parent; NULL when there is none. */
zpl_node_t *zpl_child(const zpl_node_t *self);
zpl_node_t *zpl_next(const zpl_node_t *self);
zpl_node_t *zpl_parent(const zpl_node_t *self);

/* Finds the first node along a '/'-separated path of names below `self`,
 * e.g. zpl_locate(root, "bus/pub"). Returns NULL when absent. (Names may
 * themselves contain '/'; walk with zpl_child/zpl_next to reach those.) */
zpl_node_t *zpl_locate(const zpl_node_t *self, const char *path);

/* Value at `path` below `self`, or `default_value` when the node is absent
 * or has no value. */
const char *zpl_get(const zpl_node_t *self, const char *path, const char *default_value);

/* Writes the tree below `self` (self itself too unless it is the root) as
 * ZPL that zpl_parse reads back to the same names and values. Returns 0, or
 * -1 on a write error. */
int zpl_print(const zpl_node_t *self, FILE *out);

#endif
