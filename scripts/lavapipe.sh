#!/usr/bin/env bash
# A software Vulkan device (Mesa's lavapipe and the Vulkan loader, from Debian
# bookworm-backports), so that the WebGPU backend runs for real on a machine without a GPU:
# slowly, but with the same kernels' code paths, for tests and development. Nothing is
# installed system-wide: the packages are extracted into DIR (default .cache/lavapipe under
# the current folder). About 11 MB are downloaded once; later runs take no network.
#   eval "$(bash scripts/lavapipe.sh [DIR])"   # exports VK_DRIVER_FILES, LD_LIBRARY_PATH
# Mesa 22.3 (bookworm's own lavapipe) lacks a feature Dawn requires; 25.x works.
set -euo pipefail
dir=$(mkdir -p "${1:-.cache/lavapipe}" && cd "${1:-.cache/lavapipe}" && pwd)
lib="$dir/root/usr/lib/x86_64-linux-gnu"
if [ ! -f "$lib/libvulkan_lvp.so" ] || [ ! -e "$lib/libvulkan.so.1" ]; then
  command -v apt-get >/dev/null && command -v dpkg >/dev/null || { echo "apt-get and dpkg are needed (Debian or Ubuntu)" >&2; exit 1; }
  tmp=$(mktemp -d); mkdir -p "$tmp/lists/partial" "$dir/debs" "$dir/root"
  # the Debian mirror this machine already uses, with the backports suite
  mirror=$(grep -hoE '^URIs: *[^ ]+' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1 | sed 's/^URIs: *//')
  [ -n "$mirror" ] || mirror=$(grep -hoE '^deb +[^ ]+' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')
  [ -n "$mirror" ] || { echo "no Debian mirror found in the apt sources" >&2; exit 1; }
  printf "deb %s bookworm main\ndeb %s bookworm-backports main\n" "$mirror" "$mirror" > "$tmp/sources.list"
  o="-o Dir::Etc::sourcelist=$tmp/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$tmp/lists"
  apt-get $o update -qq >&2
  (cd "$dir/debs" && apt-get $o download mesa-vulkan-drivers/bookworm-backports \
    libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports libvulkan1/bookworm >&2)
  for f in "$dir"/debs/*.deb; do dpkg -x "$f" "$dir/root"; done
  rm -rf "$tmp"
fi
sed "s#\"library_path\": \"[^\"]*\"#\"library_path\": \"$lib/libvulkan_lvp.so\"#" \
  "$dir/root/usr/share/vulkan/icd.d/lvp_icd.json" > "$dir/lvp_icd.json"
echo "export VK_DRIVER_FILES=$dir/lvp_icd.json"
echo "export LD_LIBRARY_PATH=$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
