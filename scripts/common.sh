# Shared by scripts/run and scripts/test: install what is missing, then configure and build.
# Sourced, not run. Debian 12 packages; installs only what `dpkg -s` does not already report.

LATENTCAST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LATENTCAST_BUILD=${LATENTCAST_BUILD:-$LATENTCAST_ROOT/build}

# Why each package: compilers and build tools; Qt 6 widgets (+ Qt Test); plots; JSON; LibTorch (CPU);
# the Qt SVG plugin for the icon; ccache for rebuilds on 2 cores; Xvfb + xauth for screenshots and scripts/run under a virtual display;
# DejaVu fonts so offscreen GUI tests and screenshots render text; for the Debian package
# (scripts/package and its test): dpkg-dev (dpkg-shlibdeps), desktop-file-utils and shared-mime-info
# to check the menu entry and the MIME type.
LATENTCAST_PACKAGES=(g++ cmake ninja-build pkg-config ccache qt6-base-dev libqcustomplot-dev
  nlohmann-json3-dev libtorch-dev libqt6svg6 xvfb xauth fonts-dejavu-core dpkg-dev
  desktop-file-utils shared-mime-info)

latentcast_install_deps() {
  local missing=()
  for p in "${LATENTCAST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "latentcast: installing missing packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

latentcast_build() {
  export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
  local jobs=${LATENTCAST_JOBS:-$(nproc)}
  if [ ! -f "$LATENTCAST_BUILD/CMakeCache.txt" ]; then
    cmake -S "$LATENTCAST_ROOT" -B "$LATENTCAST_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
  fi
  cmake --build "$LATENTCAST_BUILD" -j "$jobs"
}
