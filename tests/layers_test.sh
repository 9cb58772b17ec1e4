#!/usr/bin/env bash
# scripts/check-layers.sh against small trees that break each of its rules, and one that keeps them: it must
# fail on each broken tree naming what is wrong, and pass on the good one and on runtime/ itself.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
check=$here/scripts/check-layers.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

tree() {    # tree NAME FILE=CONTENT...: a runtime-like tree
  local d=$tmp/$1; shift
  mkdir -p "$d/core" "$d/data" "$d/lua" "$d/host"
  for spec in "$@"; do mkdir -p "$(dirname "$d/${spec%%=*}")"; printf '%s\n' "${spec#*=}" > "$d/${spec%%=*}"; done
  echo "$d"
}

expect() {  # expect pass|fail TREE PATTERN
  local want=$1 d=$2 pat=${3:-}
  local out rc=0
  out=$("$check" "$d" 2>&1) || rc=$?
  if [ "$want" = pass ] && [ $rc -ne 0 ]; then echo "FAIL: $(basename "$d") should pass: $out"; fails=$((fails+1)); return; fi
  if [ "$want" = fail ] && { [ $rc -eq 0 ] || ! grep -q -- "$pat" <<< "$out"; }; then
    echo "FAIL: $(basename "$d") should fail with '$pat', got (rc $rc): $out"; fails=$((fails+1)); return
  fi
  echo "ok: $(basename "$d") $want"
}

good=$(tree good 'core/a.h=int a(void);' 'core/a.c=#include "core/a.h"' 'lua/m.c=#include "core/a.h"' \
       'host/h.c=#include "lua/m.h"' 'lua/m.h=#include "core/a.h"' 'main.c=#include "host/h.h"' 'host/h.h=')
expect pass "$good"
up=$(tree upward 'core/a.c=#include "host/h.h"' 'host/h.h=')
expect fail "$up" 'core/a.c:1 includes "host/h.h", a layer above it'
cyc=$(tree cycle 'lua/x.c=#include "lua/y.h"' 'lua/x.h=' 'lua/y.c=#include "lua/x.h"' 'lua/y.h=')
expect fail "$cyc" 'include cycle among modules'
bare=$(tree bare 'lua/x.c=#include "a.h"' 'core/a.h=')
expect fail "$bare" 'name it by its layer path (core/a.h)'
stray=$(tree stray 'misc/z.c=')
expect fail "$stray" 'misc/z.c is in no layer'
expect pass "$here/runtime"

echo "$((6 - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
