#!/bin/sh
# Usage: embed-www.sh PREFIX OUT.c FILE...  — turns static files into a C table
#   const www_file_t PREFIX_www_files[] = { {"/index.html", data, len, "text/html"}, ..., {0} };
set -eu
prefix=$1; out=$2; shift 2
{
    echo '#include <stddef.h>'
    echo '#include "www.h"'
    i=0
    for f in "$@"; do
        echo "static const unsigned char s_f$i[] = {"
        od -An -v -tx1 "$f" | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'
        echo "0x00 };"
        i=$((i + 1))
    done
    echo "const www_file_t ${prefix}_www_files[] = {"
    i=0
    for f in "$@"; do
        name=/$(basename "$f")
        case "$f" in
            *.html) type="text/html; charset=utf-8" ;;
            *.js) type="text/javascript; charset=utf-8" ;;
            *.css) type="text/css; charset=utf-8" ;;
            *.svg) type="image/svg+xml" ;;
            *) type="application/octet-stream" ;;
        esac
        echo "    { \"$name\", s_f$i, sizeof s_f$i - 1, \"$type\" },"
        i=$((i + 1))
    done
    echo "    { NULL, NULL, 0, NULL }"
    echo "};"
} > "$out"
