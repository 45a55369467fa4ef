#!/bin/sh
# deploy/runtime-packages.sh BINARY... — the Debian packages that hold the
# shared libraries the binaries load (ldd, then dpkg -S), one per line,
# sorted. The container build (deploy/Dockerfile) installs exactly these in
# its runtime stage, so the list cannot drift from what the Makefile links.
# Fails when a library is not found or belongs to no package.
set -eu
[ $# -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for bin in "$@"; do
    if ! ldd "$bin" > "$tmp/ldd" 2>&1; then
        echo "runtime-packages: ldd $bin failed: $(head -n 1 "$tmp/ldd")" >&2
        exit 1
    fi
    if grep -q "not found" "$tmp/ldd"; then
        echo "runtime-packages: $bin: $(grep "not found" "$tmp/ldd" | head -n 1 | tr -s ' \t' ' ')" >&2
        exit 1
    fi
    # "libx.so.1 => /lib/.../libx.so.1 (0x...)"; the vdso and the loader have no "=> /".
    awk '$2 == "=>" && $3 ~ /^\// { print $3 }' "$tmp/ldd" >> "$tmp/libs"
done
sort -u "$tmp/libs" -o "$tmp/libs"
# Debian 12 merged /lib into /usr/lib, but dpkg knows each file by one of
# the two names: ask for both, and for the link's target, in one query.
while read -r lib; do
    echo "$lib"; echo "/usr$lib"; readlink -f "$lib"
done < "$tmp/libs" | sort -u > "$tmp/paths"
# shellcheck disable=SC2046
dpkg-query -S $(cat "$tmp/paths") 2>/dev/null > "$tmp/owners" || true
# "pkg:arch: /path" (or "pkg: /path"; "diversion by ..." lines have no path of interest).
awk -F': ' 'NF == 2 && $2 ~ /^\// { sub(/:.*/, "", $1); print $2 "\t" $1 }' "$tmp/owners" > "$tmp/map"
status=0
while read -r lib; do
    real=$(readlink -f "$lib")
    pkg=$(awk -F'\t' -v a="$lib" -v b="/usr$lib" -v c="$real" '$1 == a || $1 == b || $1 == c { print $2; exit }' "$tmp/map")
    if [ -z "$pkg" ]; then
        echo "runtime-packages: $lib belongs to no Debian package" >&2
        status=1
    fi
    echo "$pkg" >> "$tmp/pkgs"
done < "$tmp/libs"
[ $status -eq 0 ] || exit 1
sort -u "$tmp/pkgs"
