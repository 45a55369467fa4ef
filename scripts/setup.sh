#!/bin/sh
# Installs what voxmesh needs to build, run and test on Debian 12.
# Idempotent: when everything is present it does nothing but a few dpkg queries.
# `setup.sh --server`: only what builds and runs the services, without the
# browser tests' and the benchmark's tools (Chromium, Janus, Node/npm,
# playwright-core): the container build runs it so (deploy/Dockerfile).
set -eu
server=false
case "${1:-}" in
    --server) server=true ;;
    "") ;;
    *) echo "usage: $0 [--server]" >&2; exit 2 ;;
esac

PKGS="build-essential pkg-config clang libclang-rt-14-dev
libzmq3-dev libczmq-dev libwebsockets-dev libsrtp2-dev libnice-dev libglib2.0-dev
libopus-dev libogg-dev libvpx-dev libprotobuf-c-dev protobuf-c-compiler libsoxr-dev
libcurl4-openssl-dev libsystemd-dev libssl-dev libgraphviz-dev
flite flite1-dev espeak-ng sox opus-tools libpocketsphinx-dev pocketsphinx-en-us
iproute2 util-linux procps curl ca-certificates python3-yaml jq
systemd systemd-container python3"
# the browser tests, the Janus comparison and the Prometheus test: not on a server
if ! $server; then PKGS="$PKGS chromium janus prometheus"; fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if ! $server && ! command -v node >/dev/null 2>&1; then missing="$missing nodejs npm"; fi

if [ -n "$missing" ]; then
    echo "setup: installing:$missing"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=""; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
    # tests/prometheus.sh runs the prometheus binary itself, on loopback: the
    # system service the package enables is not wanted where we installed it.
    case " $missing " in *" prometheus "*)
        $SUDO systemctl disable --now prometheus > /dev/null 2>&1 || true ;;
    esac
fi

# playwright-core drives Debian's Chromium in the browser tests; it never downloads a browser.
here=$(cd "$(dirname "$0")/.." && pwd)
if ! $server && [ ! -d "$here/tests/browser/node_modules/playwright-core" ]; then
    echo "setup: npm install in tests/browser"
    (cd "$here/tests/browser" && npm install --no-audit --no-fund --silent)
fi
