# shellcheck shell=bash
# Sourced by the scripts that build native addons offline (install-tfjs-node.sh,
# build-native-kernels.sh): where node-gyp and the Node.js headers are.

# The node-gyp command: npm's own copy, else one on PATH.
find_node_gyp() {
  local npm_dir
  if command -v npm >/dev/null 2>&1; then
    npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
    if [ -f "$npm_dir/node_modules/node-gyp/bin/node-gyp.js" ]; then echo "node $npm_dir/node_modules/node-gyp/bin/node-gyp.js"; return 0; fi
  fi
  if command -v node-gyp >/dev/null 2>&1; then echo node-gyp; return 0; fi
  return 1
}

# A directory with include/node/node_api.h, so node-gyp never downloads headers.
find_node_headers() {
  local node_version d
  node_version="$(node -p 'process.version.slice(1)')"
  for d in "${npm_config_nodedir:-}" "$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")" /usr /usr/local \
           "${XDG_CACHE_HOME:-$HOME/.cache}/node-gyp/$node_version"; do
    if [ -n "$d" ] && [ -f "$d/include/node/node_api.h" ]; then echo "$d"; return 0; fi
  done
  return 1
}
