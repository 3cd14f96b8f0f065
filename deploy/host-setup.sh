# Shared by deploy/quickstart.sh and tests/run.sh (sourced, not run): sets up a Debian 12 host for
# balloond: packages, virtlogd + libvirtd, the build, the demo/test guest image.

BALLOOND_ROOT=${BALLOOND_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BALLOOND_BUILD=${BALLOOND_BUILD:-$BALLOOND_ROOT/build}

# Build tools and libraries, libvirt with QEMU, and what the test guest is made of.
BALLOOND_PACKAGES=(
  cmake g++ make pkg-config dpkg-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libabsl-dev
  libvirt-dev libxml2-dev nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libssl-dev
  prometheus-cpp-dev
  qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
  busybox-static cpio gzip procps dbus polkitd
)
# What only the tests need: the checked build (clang with sanitizers and libFuzzer), lint, test
# certificates, a Prometheus server to scrape balloond, tmux to drive `balloonctl top`.
# systemd-analyze rates the shipped unit. The example orchestrator (deploy/examples) is Python.
BALLOOND_TEST_PACKAGES=(clang-14 libclang-rt-14-dev clang-format-14 clang-tidy-14 openssl prometheus tmux
  systemd python3-grpcio python3-protobuf python3-libvirt ccache man-db)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_root() {
  [[ $(id -u) == 0 ]] || die "run this as root (it installs packages and starts libvirtd)"
}

# install_packages [EXTRA_PACKAGE...]: BALLOOND_PACKAGES and the extra ones, where missing.
install_packages() {
  local missing=()
  for p in "${BALLOOND_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # build-guest.sh resolves the cloud kernel through apt's lists, which a fresh machine lacks.
  if [[ ${#missing[@]} -gt 0 ]] || ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
    say "installing packages: ${missing[*]:-(lists only)}"
    apt-get update -q
  fi
  if [[ ${#missing[@]} -gt 0 ]]; then
    # libvirt-daemon-system asks about an existing qemu.conf; a half-configured install leaves no
    # libvirt-qemu user and libvirtd then refuses to start.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confnew "${missing[@]}"
  fi
}

libvirt_answers() { virsh -c qemu:///system version >/dev/null 2>&1; }

# balloond runs as the system user balloond in group libvirt (as the package and the service test
# make it); libvirt lets that group in through polkit, which it reaches over the system bus.
BALLOOND_SERVICE_USER=balloond
ensure_service_user() {
  if ! getent passwd "$BALLOOND_SERVICE_USER" >/dev/null; then
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$BALLOOND_SERVICE_USER"
  fi
  if getent group libvirt >/dev/null && ! id -nG "$BALLOOND_SERVICE_USER" | grep -qw libvirt; then
    usermod -aG libvirt "$BALLOOND_SERVICE_USER"
  fi
}

# What libvirt answers a member of group libvirt that is not root (empty when it serves it).
libvirt_refuses_service_user() {
  setpriv --reuid="$BALLOOND_SERVICE_USER" --regid="$BALLOOND_SERVICE_USER" --init-groups \
    virsh -c qemu:///system list --all 2>&1 >/dev/null | sed -n 's/^error: //p' | tr '\n' ' ' || true
}

# The system bus and polkit, which libvirt asks whether a non-root client may manage domains.
start_bus_and_polkit() {
  if ! pgrep -x dbus-daemon >/dev/null; then
    say "starting the system bus (dbus-daemon)"
    mkdir -p /run/dbus
    rm -f /run/dbus/pid
    dbus-daemon --system --fork
  fi
  if ! pgrep -f polkit-1/polkitd >/dev/null; then
    say "starting polkitd"
    /usr/lib/polkit-1/polkitd --no-debug >/dev/null 2>&1 &
    for _ in $(seq 1 50); do
      dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.PolicyKit1 2>/dev/null |
        grep -q 'boolean true' && break
      sleep 0.1
    done
  fi
}

wait_for_libvirt() {
  for _ in $(seq 1 100); do
    libvirt_answers && return 0
    sleep 0.2
  done
  die "libvirtd did not answer on qemu:///system; see /var/log/libvirt/libvirtd.log"
}

restart_libvirtd() {
  if [[ -d /run/systemd/system ]]; then
    systemctl restart libvirtd.service
  else
    pkill -x libvirtd || true
    for _ in $(seq 1 50); do
      pgrep -x libvirtd >/dev/null || break
      sleep 0.1
    done
    /usr/sbin/libvirtd -d
  fi
  wait_for_libvirt
}

start_libvirt() {
  if ! libvirt_answers; then
    say "starting virtlogd and libvirtd"
    if [[ -d /run/systemd/system ]]; then
      systemctl start dbus.service polkit.service virtlogd.socket libvirtd.service
    else
      # Containers and CI machines have no systemd: run the daemons directly, the system bus and
      # polkit first (libvirtd that starts before them refuses non-root clients until restarted).
      start_bus_and_polkit
      pgrep -x virtlogd >/dev/null || /usr/sbin/virtlogd -d
      pgrep -x libvirtd >/dev/null || /usr/sbin/libvirtd -d
    fi
    wait_for_libvirt
  fi
  check_libvirt_serves_service_user
}

# libvirt answering root is not enough: balloond's service user must get in too. A libvirtd started
# before the system bus or polkit refuses it ("Unable to get system bus connection") until it is
# restarted with both running: start what is missing, restart it, and say so.
check_libvirt_serves_service_user() {
  ensure_service_user
  local refused
  refused=$(libvirt_refuses_service_user)
  [[ -z $refused ]] && return 0
  say "libvirt refuses user $BALLOOND_SERVICE_USER (group libvirt): $refused"
  if [[ -d /run/systemd/system ]]; then
    systemctl start dbus.service polkit.service
  else
    start_bus_and_polkit
  fi
  say "restarting libvirtd so that it reaches the system bus and polkit"
  restart_libvirtd
  refused=$(libvirt_refuses_service_user)
  [[ -z $refused ]] || die "libvirt still refuses user $BALLOOND_SERVICE_USER in group libvirt: $refused"
  say "libvirt now serves user $BALLOOND_SERVICE_USER in group libvirt"
}

# use_compiler_cache: where ccache is installed (tests/run.sh installs it), sets
# BALLOOND_CACHE_FLAGS to CMake's flags to compile through it, so that a rebuild of unchanged
# sources (CI's fresh clone of the same tree, a second checkout) takes minutes instead of half an
# hour. Its cache is keyed by the sources' contents and paths relative to the checkout, so any
# clone shares it; BALLOOND_CCACHE=0 turns it off. The settings are part of the launcher, so a later
# plain `cmake --build` of the same build directory keys its entries the same way (without them,
# paths would be absolute and a fresh clone would miss them).
use_compiler_cache() {
  local launcher=
  if [[ ${BALLOOND_CCACHE:-1} != 0 ]] && command -v ccache >/dev/null; then
    launcher="env;CCACHE_BASEDIR=$BALLOOND_ROOT;CCACHE_NOHASHDIR=true;CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-12G};ccache"
  fi
  BALLOOND_CACHE_FLAGS=("-DCMAKE_C_COMPILER_LAUNCHER=$launcher" "-DCMAKE_CXX_COMPILER_LAUNCHER=$launcher")
}

# build_project [TARGET...]: configures and builds into $BALLOOND_BUILD (everything by default).
build_project() {
  say "building balloond"
  use_compiler_cache
  cmake -S "$BALLOOND_ROOT" -B "$BALLOOND_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBALLOOND_WERROR="${BALLOOND_WERROR:-OFF}" "${BALLOOND_CACHE_FLAGS[@]}" >/dev/null
  local targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  cmake --build "$BALLOOND_BUILD" -j"$(nproc)" "${targets[@]}"
}

# install_buf: buf, which checks the API (tests/proto/buf_check.sh), from npm's registry into
# build-tools/ (its package ships the Linux binary); Debian has no buf.
BALLOOND_BUF_VERSION=1.75.0
install_buf() {
  local tools=$BALLOOND_ROOT/build-tools
  if [[ -x $tools/node_modules/.bin/buf ]] &&
    [[ $("$tools/node_modules/.bin/buf" --version) == "$BALLOOND_BUF_VERSION" ]]; then
    return
  fi
  command -v npm >/dev/null || install_packages npm
  say "installing buf $BALLOOND_BUF_VERSION (npm @bufbuild/buf) into $tools"
  npm install --prefix "$tools" --no-audit --no-fund --silent "@bufbuild/buf@$BALLOOND_BUF_VERSION"
}

# build_package: balloond's .deb from the product alone (no tests, no fuzz targets: cpack builds
# every target of its tree first), in $BALLOOND_PACKAGE_BUILD; the .deb lands in its package/.
BALLOOND_PACKAGE_BUILD=${BALLOOND_PACKAGE_BUILD:-$BALLOOND_ROOT/build-package}
build_package() {
  say "building balloond's package (the product alone)"
  use_compiler_cache
  cmake -S "$BALLOOND_ROOT" -B "$BALLOOND_PACKAGE_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBUILD_TESTING=OFF -DBALLOOND_WERROR="${BALLOOND_WERROR:-OFF}" "${BALLOOND_CACHE_FLAGS[@]}" >/dev/null
  cmake --build "$BALLOOND_PACKAGE_BUILD" -j"$(nproc)"
  (cd "$BALLOOND_PACKAGE_BUILD" && cpack -G DEB -B "$BALLOOND_PACKAGE_BUILD/package" >/dev/null)
}

# build_checked: the unit tests, fuzz targets and the soak test (with balloond itself) under
# AddressSanitizer and UndefinedBehaviorSanitizer, built with clang into $BALLOOND_CHECK_BUILD.
BALLOOND_CHECK_BUILD=${BALLOOND_CHECK_BUILD:-$BALLOOND_ROOT/build-check}
build_checked() {
  say "building the checked build (clang-14, ASan + UBSan, libFuzzer)"
  use_compiler_cache
  CC=clang-14 CXX=clang++-14 cmake -S "$BALLOOND_ROOT" -B "$BALLOOND_CHECK_BUILD" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBALLOOND_SANITIZE=ON -DBALLOOND_FUZZ=ON \
    -DBALLOOND_INTEGRATION_TESTS=OFF -DBALLOOND_SOAK_TEST=ON \
    -DBALLOOND_WERROR="${BALLOOND_WERROR:-OFF}" "${BALLOOND_CACHE_FLAGS[@]}" >/dev/null
  cmake --build "$BALLOOND_CHECK_BUILD" -j"$(nproc)"
}

build_guest() {
  say "building the guest image (Debian cloud kernel + busybox initramfs)"
  "$BALLOOND_ROOT/tests/guest/build-guest.sh"
}
