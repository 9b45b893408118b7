#!/usr/bin/env bash
# Install the Vercel AI SDK's OpenAI provider (@ai-sdk/openai and zod, pinned in package.json and
# package-lock.json) into ~/.cache/responses-gateway/js-schemas-<hash>/, keyed by those files and
# the node version, for tests/test_js_schemas.py. Idempotent: a warm cache costs one hash and one
# stat. Prints the directory that holds node_modules/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

key="$( (cat "$here/package.json" "$here/package-lock.json"; node --version) | sha256sum | cut -c1-12)"
cache="${RESPONSES_GATEWAY_CACHE:-$HOME/.cache/responses-gateway}/js-schemas-$key"
mkdir -p "$(dirname "$cache")"

if [ -f "$cache/.installed" ]; then
  echo "$cache"
  exit 0
fi

exec 9>"$cache.lock"
flock 9  # another worktree or test run may be installing the same set
if [ ! -f "$cache/.installed" ]; then
  echo "installing @ai-sdk/openai into $cache (once per version set)" >&2
  rm -rf "$cache"  # a half-done install (no stamp) starts over
  mkdir -p "$cache"
  cp "$here/package.json" "$here/package-lock.json" "$cache/"
  (cd "$cache" && npm ci --no-audit --no-fund --loglevel=error >&2)
  touch "$cache/.installed"
fi
echo "$cache"
