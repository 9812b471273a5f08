#!/usr/bin/env bash
# Packs what a GPU machine without Node or network needs to run this checkout's `seg`: a Node
# binary, the built package with its production node_modules (no dev tools, source maps or
# browser bundles; the GPU bindings and onnxruntime for linux-x64 only) and Debian's Vulkan
# loader. Writes .device/ (kept out of git through .git/info/exclude). Run from the project
# root after `npm ci`. Then, on the GPU machine: bash .device/run.sh '<command>'
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
rm -rf .device; mkdir -p .device/gl
[ -f dist/cli/main.js ] || npm run build
echo "node binary..."; xz -T2 -9 -c "$(command -v node)" > .device/node.xz
echo "production modules..."
mapfile -t mods < <(npm ls --omit=dev --all --parseable 2>/dev/null | sed "s#^$root/##" | grep '^node_modules/' | sort -u)
ort=node_modules/onnxruntime-node/bin/napi-v6
tar -cf - --exclude='*.map' --exclude='*.d.ts' --exclude='*.min.js' --exclude='*.es2017.js' \
  --exclude='*.fesm.js' --exclude='*.esm.js' --exclude='*.html' --exclude='*/src/*.ts' \
  --exclude='node_modules/webgpu/dist/win32-*' --exclude='node_modules/webgpu/dist/darwin-*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' --exclude='node_modules/@tensorflow/tfjs/dist/miniprogram' \
  --exclude="$ort/darwin" --exclude="$ort/win32" --exclude="$ort/linux/arm64" \
  dist package.json "${mods[@]}" | xz -T2 -6 > .device/app.tar.xz
echo "Vulkan loader..."
lists=$(mktemp -d); mkdir -p "$lists/partial"
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
apt-get $o update -qq >/dev/null 2>&1 || true
(cd .device/gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1) \
  || echo "warning: could not download the Vulkan loader packages (apt-get update first?)"
cp "$(dirname "${BASH_SOURCE[0]}")/run.sh" .device/run.sh
