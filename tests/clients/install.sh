#!/usr/bin/env bash
# Install the real clients the suite runs against the gateway (Codex CLI, the Vercel AI SDK, the
# OpenAI Agents SDK, LlamaIndex) into ~/.cache/responses-gateway/clients-<hash>/, keyed by the
# pinned versions (package.json, package-lock.json, requirements-*.txt), this script, and the
# node and python versions. Idempotent: a warm cache costs one hash and one stat. Prints the
# cache directory.
#
#   node/node_modules/.bin/codex   npm @openai/codex (its Linux binary comes in its npm package)
#   node/node_modules/{ai,@ai-sdk/openai,zod}
#   agents/bin/python              openai-agents, in a venv of its own (it needs openai>=3)
#   llamaindex/bin/python          llama-index-llms-openai, in a venv of its own (it needs openai<3)
# Each Python client has its own venv because the two pin incompatible `openai` majors, and
# neither may move the project's dev `openai`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${CLIENTS_PYTHON:-python3}"

key="$( (cat "$here/install.sh" "$here/package.json" "$here/package-lock.json" "$here"/requirements-*.txt;
         node --version; "$python" --version) | sha256sum | cut -c1-12)"
cache="${RESPONSES_GATEWAY_CACHE:-$HOME/.cache/responses-gateway}/clients-$key"
mkdir -p "$(dirname "$cache")"

if [ -f "$cache/.installed" ]; then
  echo "$cache"
  exit 0
fi

exec 9>"$cache.lock"
flock 9  # another worktree or run may be installing the same set
if [ -f "$cache/.installed" ]; then
  echo "$cache"
  exit 0
fi
echo "installing the client test programs into $cache (once per version set)" >&2
start=$(date +%s)
rm -rf "$cache"  # a half-done install (no stamp) starts over
mkdir -p "$cache/node"
cp "$here/package.json" "$here/package-lock.json" "$cache/node/"
(cd "$cache/node" && npm ci --no-audit --no-fund --loglevel=error >&2)
for venv in agents llamaindex; do
  "$python" -m venv "$cache/$venv"
  "$cache/$venv/bin/pip" install --quiet --disable-pip-version-check \
    -r "$here/requirements-$venv.txt" >&2
done
touch "$cache/.installed"
echo "client install took $(($(date +%s) - start)) s" >&2
echo "$cache"
