#!/usr/bin/env bash
# Checks the layering of runtime/ (docs/architecture.md): every #include "..." of a runtime file names another
# runtime file by its layer path (core/x.h, not x.h) in the same layer or one below it, and no two modules include
# each other, directly or through others (a module is a .c file and the .h of the same name).
#   layers, bottom to top: core (knows neither bots nor Lua), data, lua, host, main.c
# Prints each violation on a line of its own and exits 1 if there is any. Usage: scripts/check-layers.sh [DIR]
# (default: runtime/; tests/layers_test.sh runs it on trees made to break each rule).
set -euo pipefail
cd "${1:-$(dirname "$0")/../runtime}"

layer() {   # layer PATH -> its rank, or nothing for a path outside the layers
  case $1 in
    core/*) echo 0 ;; data/*) echo 1 ;; lua/*) echo 2 ;; host/*) echo 3 ;; main.c) echo 4 ;;
  esac
}

bad=0
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
while IFS= read -r file; do
  from=$(layer "$file")
  [ -n "$from" ] || { echo "check-layers: $file is in no layer (core/, data/, lua/, host/ or main.c)"; bad=1; continue; }
  while IFS=: read -r line inc; do
    [ -n "$inc" ] || continue
    if [ ! -f "$inc" ]; then
      # a generated header of the build (stdlib_embed.c's) or a bare name that hides the layer
      base=$(basename "$inc")
      if [ "$inc" = "$base" ] && compgen -G "*/$base" > /dev/null; then
        echo "check-layers: $file:$line includes \"$inc\": name it by its layer path ($(cd . && ls */"$base" | head -1))"
        bad=1
      fi
      continue
    fi
    to=$(layer "$inc")
    if [ "$to" -gt "$from" ]; then
      echo "check-layers: $file:$line includes \"$inc\", a layer above it"
      bad=1
    fi
    a=${file%.*} b=${inc%.*}
    [ "$a" = "$b" ] || echo "$a $b" >> "$edges"
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" | sed -E 's/^([0-9]+):.*"([^"]+)".*/\1:\2/')
done < <(find . -name '*.[ch]' | sed 's|^\./||' | sort)

# A cycle among modules: tsort names the modules on it.
if ! cycle=$(sort -u "$edges" | tsort 2>&1 >/dev/null); [ -n "${cycle:-}" ]; then
  if [ -n "$cycle" ]; then
    echo "check-layers: include cycle among modules:"
    echo "$cycle" | sed 's/^tsort: /  /'
    bad=1
  fi
fi

if [ "$bad" -ne 0 ]; then
  exit 1
fi
echo "check-layers: $(find . -name '*.[ch]' | wc -l) files, no upward include, no include cycle"
