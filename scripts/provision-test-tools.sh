#!/usr/bin/env bash
# Installs the command-line FTP clients the e2e suites drive (lftp; curl and openssl are checked) and
# the browser the page's suite drives (chromium, through playwright-core),
# from the distribution's packages when they are missing. Idempotent: does nothing when all are there.
# Debian/Ubuntu (apt-get) as root or with sudo; elsewhere it names what to install and fails.
set -euo pipefail

# promtool, for the alert rules' unit test (test/unit/prometheus-rules.test.ts): built once from its Go
# source into .cache/ by scripts/promtool.sh (needs the Go toolchain, as the stack's MinIO does).
bash "$(dirname "$0")/promtool.sh" >/dev/null

# command -> Debian package
declare -A TOOLS=([lftp]=lftp [curl]=curl [openssl]=openssl [chromium]=chromium)

missing=()
for tool in "${!TOOLS[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${TOOLS[$tool]}")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "test tools present: ${!TOOLS[*]}"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: ${missing[*]} (no apt-get here: install them with the system's package manager)" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "missing: ${missing[*]} (need root or sudo to install)" >&2; exit 1; }
  sudo=(sudo)
fi

echo "installing from apt: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for tool in "${!TOOLS[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool still missing after apt-get install" >&2; exit 1; }
done
echo "test tools present: ${!TOOLS[*]}"
