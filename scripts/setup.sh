#!/usr/bin/env bash
# Installs what is missing (Debian 12, as root), builds stratrun into build/, and runs a sample strategy.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config liblua5.4-dev lua5.4 lua-cjson-dev lua-busted redis-server
          libcurl4-openssl-dev libhiredis-dev libssl-dev libsqlite3-dev libmicrohttpd-dev libwslay-dev zlib1g-dev sqlite3 clang libclang-rt-14-dev valgrind faketime strace tmux
          chromium lua-check python3-websockets openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# lua-check pulls in lua5.1, whose alternative outranks lua5.4's: keep `lua` and `luac` the strategies' Lua 5.4.
update-alternatives --set lua-interpreter /usr/bin/lua5.4 > /dev/null
update-alternatives --set lua-compiler /usr/bin/luac5.4 > /dev/null

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j "$(nproc)"

# A sample run in a scratch data dir, so it leaves nothing behind in ~/.local/state.
demo=$(mktemp -d)
./build/stratrun --data-dir "$demo" --id hello strategies/hello.lua
echo "status panel (from $demo/bots/hello/status.txt):"
cat "$demo/bots/hello/status.txt"
rm -rf "$demo"
