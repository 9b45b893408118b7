#!/usr/bin/env bash
# Set up the Open Responses compliance suite's runtime, once per version, outside the repo:
#   ~/.cache/responses-gateway/bun-$BUN/node_modules/.bin/bun     (npm `bun`; its binary comes in
#                                                                 the optional @oven/bun-* package)
#   ~/.cache/responses-gateway/openresponses-$COMMIT/node_modules   (zod, the suite's one import)
# The suite itself (bin/compliance-test.ts, src/lib, src/generated of openresponses/openresponses
# at $COMMIT) is not ours to commit or download here: it must already be in
# openresponses-$COMMIT/suite/ (see README "Open Responses compliance"). Idempotent; prints the
# path of bun.
set -euo pipefail
BUN=1.4.5
ZOD=3.25.76  # the suite's package.json pins zod ^3.25.76
COMMIT="${OPENRESPONSES_COMMIT:-92c12d96d7b61d6d15e2214daa5e9c6000ab6e1c}"
cache="${RESPONSES_GATEWAY_CACHE:-$HOME/.cache/responses-gateway}"
bun_dir="$cache/bun-$BUN"
suite_root="$cache/openresponses-$COMMIT"
mkdir -p "$cache"

install_once() {  # dir stamp command...
  local dir="$1" stamp="$2"
  shift 2
  [ -f "$dir/$stamp" ] && return 0
  exec 9>"$dir.lock"
  flock 9  # another worktree or run may be installing the same thing
  if [ ! -f "$dir/$stamp" ]; then
    mkdir -p "$dir"
    "$@" >&2
    touch "$dir/$stamp"
  fi
  exec 9>&-
}

install_once "$bun_dir" .installed \
  npm install --prefix "$bun_dir" --no-audit --no-fund --loglevel=error "bun@$BUN"
if [ -d "$suite_root/suite" ]; then
  [ -f "$suite_root/package.json" ] || echo '{"private": true}' > "$suite_root/package.json"
  install_once "$suite_root" .deps-installed \
    npm install --prefix "$suite_root" --no-audit --no-fund --loglevel=error "zod@$ZOD"
fi
echo "$bun_dir/node_modules/.bin/bun"
