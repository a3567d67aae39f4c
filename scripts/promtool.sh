#!/usr/bin/env bash
# Builds Prometheus's promtool (for `promtool check rules` / `promtool test rules` on ops/) from its
# source on the Go module proxy with the local Go toolchain, once, into .cache/promtool/<version>/ (git-ignored),
# and prints its path. Idempotent: a cached binary is reused.
# Prometheus 3.x is published to Go as v0.3XX.Y (v3.5.0 is v0.305.0): its go.mod has no /v3 path.
set -euo pipefail

VERSION="${PROMTOOL_MODULE_VERSION:-v0.305.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN_DIR="$ROOT/.cache/promtool/$VERSION"

if [ -x "$BIN_DIR/promtool" ]; then
  echo "$BIN_DIR/promtool"
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "promtool: no Go toolchain on PATH to build it with" >&2; exit 1; }
mkdir -p "$BIN_DIR"
echo "building promtool $VERSION (a few minutes, once)" >&2
# `go install pkg@version` refuses a module whose go.mod has replace directives (Prometheus's has), so
# the module is downloaded and built as the main module, where its replace directives apply.
SRC="$(go mod download -json "github.com/prometheus/prometheus@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -n "$SRC" ] || { echo "promtool: go mod download gave no source folder" >&2; exit 1; }
# CGO off: a static binary that does not depend on the machine's C library.
(cd "$SRC" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "$BIN_DIR/promtool.tmp" ./cmd/promtool) >&2
mv "$BIN_DIR/promtool.tmp" "$BIN_DIR/promtool"
echo "$BIN_DIR/promtool"
