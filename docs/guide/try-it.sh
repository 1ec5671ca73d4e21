#!/usr/bin/env bash
# Runs the user guide's "try it" blocks, so that every command the guide shows keeps working.
#
# A try-it block is a fenced block whose info string is `sh try-it` (or `sh try-it repo`) in a
# chapter listed in docs/guide/src/SUMMARY.md. Chapters run in SUMMARY order; the blocks of one
# chapter run in order in one fresh scratch directory in which `samples` links to the
# repository's samples/, so commands read exactly as the guide prints them and write nothing
# into the repository. `repo` blocks (cargo commands) run at the repository root instead. Each
# block runs under `bash -euo pipefail` with `llm-perf` first on PATH; the first block that
# exits non-zero fails the run, with its commands and output.
#
# Usage: docs/guide/try-it.sh
#   LLM_PERF_BIN=path/to/llm-perf   the binary to test (default target/debug/llm-perf;
#                                   build it first: cargo build -p llm-perf-cli)
#   TRY_IT_OUT=DIR                  also keep every block's output in DIR (to update the guide)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
src=$root/docs/guide/src
bin=${LLM_PERF_BIN:-$root/target/debug/llm-perf}
if [ ! -x "$bin" ]; then
  echo "try-it: $bin is missing: build it with cargo build -p llm-perf-cli (or set LLM_PERF_BIN)" >&2
  exit 1
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

work=$(mktemp -d "${TMPDIR:-/tmp}/llm-perf-try-it.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
ln -s "$bin" "$work/bin/llm-perf"
export PATH="$work/bin:$PATH"
if [ -n "${TRY_IT_OUT:-}" ]; then mkdir -p "$TRY_IT_OUT"; fi

# Chapters in reading order: the (file.md) links of SUMMARY.md.
mapfile -t chapters < <(grep -o '([^()]*\.md)' "$src/SUMMARY.md" | tr -d '()')

blocks=0
start=$SECONDS
for chapter in "${chapters[@]}"; do
  name=${chapter%.md}
  dir=$work/$name
  mkdir -p "$dir/.blocks"
  ln -s "$root/samples" "$dir/samples"
  # One file per try-it block: NNN.sh, or NNN.repo.sh for blocks that run at the root.
  awk -v out="$dir/.blocks" '
    /^[ \t]*```/ {
      if (!fence) {
        fence = 1; tryit = 0; repo = 0
        info = $0; sub(/^[ \t]*```/, "", info)
        n = split(info, w, /[ ,]+/)
        if (w[1] == "sh") for (i = 2; i <= n; i++) {
          if (w[i] == "try-it") tryit = 1
          if (w[i] == "repo") repo = 1
        }
        if (tryit) { k++; f = sprintf("%s/%03d%s.sh", out, k, repo ? ".repo" : ""); printf "" > f }
      } else {
        if (tryit) close(f)
        fence = 0; tryit = 0
      }
      next
    }
    fence && tryit { print > f }
  ' "$src/$chapter"
  for block in "$dir"/.blocks/*.sh; do
    [ -e "$block" ] || continue
    blocks=$((blocks + 1))
    id=$name#$(basename "$block" .sh)
    cwd=$dir
    case $block in *.repo.sh) cwd=$root ;; esac
    t0=$SECONDS
    if ! (cd "$cwd" && bash -euo pipefail "$block") >"$block.out" 2>&1; then
      echo "try-it: FAILED $id (in $cwd):" >&2
      sed 's/^/  | /' "$block" >&2
      echo "  output:" >&2
      tail -n 40 "$block.out" | sed 's/^/  > /' >&2
      exit 1
    fi
    echo "try-it: ok $id ($((SECONDS - t0)) s, $(wc -l <"$block.out") lines of output)"
    if [ -n "${TRY_IT_OUT:-}" ]; then
      { sed 's/^/$ /' "$block"; cat "$block.out"; } >"$TRY_IT_OUT/${name}_$(basename "$block" .sh).txt"
    fi
  done
done
if [ "$blocks" -eq 0 ]; then
  echo "try-it: no try-it blocks found under $src" >&2
  exit 1
fi
echo "try-it: ${#chapters[@]} chapters in $((SECONDS - start)) s"
echo "try-it: $blocks passed, 0 failed"
