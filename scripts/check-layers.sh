#!/usr/bin/env bash
# Checks the layering of runtime/ (docs/architecture.md): every #include "..." of a runtime file names another
# runtime file by its layer path (core/x.h, not x.h) in the same layer or one below it, and no two modules include
# each other, directly or through others (a module is a .c file and the .h of the same name).
#   layers, bottom to top: core (knows neither bots nor Lua), data, lua, host, main.c
# Prints each violation on a line of its own and exits 1 if there is any. Usage: scripts/check-layers.sh [DIR]
# (default: runtime/; tests/layers_test.sh runs it on trees made to break each rule).
set -euo pipefail
cd "${1:-$(dirname "$0")/../runtime}"

files=$(find . -name '*.[ch]' | sed 's|^\./||' | sort)
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
# One pass over every include: "file:line:header" in, violations out (and module edges into $edges).
report=$( { printf '%s\n' "$files" | sed 's/^/F:/'
            grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' $files /dev/null |
              sed -E 's/^([^:]+):([0-9]+):.*"([^"]+)".*/I:\1:\2:\3/'; } |
  awk -v edges="$edges" '
    function layer(p) {
      if (p ~ /^core\//) return 0; if (p ~ /^data\//) return 1; if (p ~ /^lua\//) return 2
      if (p ~ /^host\//) return 3; if (p == "main.c") return 4; return -1
    }
    function module(p) { sub(/\.[ch]$/, "", p); return p }
    /^F:/ { f = substr($0, 3); exists[f] = 1; n = split(f, parts, "/"); base[parts[n]] = base[parts[n]] ? base[parts[n]] : f
            if (layer(f) < 0) print "check-layers: " f " is in no layer (core/, data/, lua/, host/ or main.c)"; next }
    /^I:/ { split(substr($0, 3), a, ":"); inc[++ni] = a[1] SUBSEP a[2] SUBSEP a[3] }
    END {
      for (i = 1; i <= ni; i++) {
        split(inc[i], a, SUBSEP); file = a[1]; line = a[2]; h = a[3]
        if (!(h in exists)) {
          if (h !~ /\// && (h in base))
            print "check-layers: " file ":" line " includes \"" h "\": name it by its layer path (" base[h] ")"
          continue      # a system or generated header
        }
        if (layer(h) > layer(file)) print "check-layers: " file ":" line " includes \"" h "\", a layer above it"
        if (module(file) != module(h)) print module(file), module(h) > edges
      }
    }') || true
bad=0
[ -z "$report" ] || { echo "$report"; bad=1; }

# A cycle among modules: tsort names the modules on it.
cycle=$(sort -u "$edges" | tsort 2>&1 > /dev/null) || true
if [ -n "$cycle" ]; then
  echo "check-layers: include cycle among modules:"
  echo "$cycle" | sed 's/^tsort: /  /'
  bad=1
fi

if [ "$bad" -ne 0 ]; then
  exit 1
fi
echo "check-layers: $(find . -name '*.[ch]' | wc -l) files, no upward include, no include cycle"
