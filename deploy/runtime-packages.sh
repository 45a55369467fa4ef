#!/bin/sh
# deploy/runtime-packages.sh BINARY... — the Debian packages that hold the
# shared libraries the binaries load (ldd, then dpkg -S), one per line,
# sorted. The container build (deploy/Dockerfile) installs exactly these in
# its runtime stage, so the list cannot drift from what the Makefile links.
# Fails when a library is not found or belongs to no package.
set -eu
[ $# -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for bin in "$@"; do
    if ! ldd "$bin" >"$out.ldd" 2>&1; then
        echo "runtime-packages: ldd $bin failed: $(head -n 1 "$out.ldd")" >&2
        rm -f "$out.ldd"; exit 1
    fi
    if grep -q "not found" "$out.ldd"; then
        echo "runtime-packages: $bin: $(grep "not found" "$out.ldd" | head -n 1 | tr -s ' \t' ' ')" >&2
        rm -f "$out.ldd"; exit 1
    fi
    # "libx.so.1 => /lib/.../libx.so.1 (0x...)"; the vdso and the loader have no "=> /".
    for lib in $(awk '$2 == "=>" && $3 ~ /^\// { print $3 }' "$out.ldd"); do
        # Debian 12 merged /lib into /usr/lib but dpkg knows each file by one
        # of the two names: ask for both, then for the link's target.
        pkg=""
        for path in "$lib" "/usr$lib" "$(readlink -f "$lib")"; do
            pkg=$(dpkg-query -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1) && [ -n "$pkg" ] && break
        done
        if [ -z "$pkg" ]; then
            echo "runtime-packages: $bin: $lib belongs to no Debian package" >&2
            rm -f "$out.ldd"; exit 1
        fi
        echo "$pkg" >>"$out"
    done
    rm -f "$out.ldd"
done
sort -u "$out"
