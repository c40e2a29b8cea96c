#!/bin/bash
# Stages the Debian build dependencies that the GPU machine's image lacks
# (it has PyTorch with a CUDA LibTorch, CMake, ninja and a compiler, and
# reaches no package registry) into .gpu_deps/usr, a git-ignored folder that
# a device run carries (`carry: [".gpu_deps"]`) and scripts/gpu_check.sh
# adds to CMAKE_PREFIX_PATH:
#   header-only: CLI11, toml++, nlohmann-json (headers and CMake configs);
#   compiled: GoogleTest / GoogleMock (static), Google Benchmark and
#   toml++ (shared: Debian builds toml++ as a library, which tokrl links;
#   x86-64, built by Debian against glibc 2.36, which newer glibcs run).
# Run it here, on the Debian development machine, after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.gpu_deps/usr
rm -rf .gpu_deps && mkdir -p "$dest"
arch=lib/x86_64-linux-gnu
copy() {  # copy PATH (relative to /usr) into $dest, keeping its place
  mkdir -p "$dest/$(dirname "$1")"
  cp -a "/usr/$1" "$dest/$1"
}
for p in include/CLI include/toml++ include/nlohmann include/gtest \
  include/gmock include/benchmark share/cmake/CLI11 share/cmake/nlohmann_json \
  $arch/cmake/tomlplusplus $arch/cmake/GTest $arch/cmake/benchmark; do
  [ -e "/usr/$p" ] || { echo "gpu_deps: /usr/$p missing (run scripts/setup.sh)" >&2; exit 1; }
  copy "$p"
done
# Debian ships Google Benchmark and toml++ as shared libraries: they travel
# too (the build's RPATH finds them there). The CMake configs locate
# everything relative to themselves once they are not at their original
# /usr place.
for f in /usr/$arch/libgtest*.a /usr/$arch/libgmock*.a /usr/$arch/libbenchmark* \
  /usr/$arch/libtomlplusplus*; do
  copy "${f#/usr/}"
done
grep -qx '/.gpu_deps/' .git/info/exclude 2>/dev/null || echo '/.gpu_deps/' >> .git/info/exclude
echo "gpu_deps: staged $(du -sh .gpu_deps | cut -f1) in .gpu_deps (carry it to the device)"
