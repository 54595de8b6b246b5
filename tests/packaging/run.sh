#!/usr/bin/env bash
# Builds the SDK as its users would and checks what they get:
#   1. the .deb packages (scripts/package), unpacked into a throwaway root: their names, their
#      files, the tools' man pages and docs (readable, and where --help says), and a shared
#      library that exports the public API and nothing else;
#   2. a user's program (consumer/) built four ways, each run against the emulator from the
#      tools package: find_package against the unpacked root, pkg-config (shared, and --static
#      against a static install), add_subdirectory of this tree, and FetchContent of this git
#      checkout's HEAD; and a user's tests (emulator_consumer/) with the packaged emulator
#      fixture and test helper;
#   3. that as a subproject the SDK leaves the parent's build type, flags and install alone.
# usage: tests/packaging/run.sh [WORK_DIR]   (default ./build-packaging)
# STATIC_BUILD_DIR names a configured static build to install from (default ./build, which
# scripts/test makes; built here if missing).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
work="$(mkdir -p "${1:-build-packaging}" && cd "${1:-build-packaging}" && pwd)"
consumer="$repo/tests/packaging/consumer"

log() { echo "packaging: $*" >&2; }
fail() {
  log "FAILED: $*"
  exit 1
}

# shellcheck source=scripts/lib/deps.sh
source scripts/lib/deps.sh
# pkg-config --static lists libcurl's own dependencies (-lnghttp2, -lssh2, -lldap...), which
# link only where their -dev packages are installed.
# groff renders the man pages.
install_missing_packages git binutils libnghttp2-dev librtmp-dev libssh2-1-dev libpsl-dev \
  libkrb5-dev libldap2-dev libzstd-dev libidn2-dev groff-base

# --- 1. The packages ------------------------------------------------------------------------
log "building the packages"
BUILD_DIR="$work/package" scripts/package >/dev/null
version="$(sed -n 's/^#define INSTASENT_VERSION_STRING "\(.*\)"$/\1/p' \
  "$work/package/include/instasent/version.hpp")"
[[ -n "$version" ]] || fail "no version in the generated version.hpp"
root="$work/root"
rm -rf "$root"
mkdir -p "$root"
for package in instasent instasent-dev instasent-tools; do
  deb="$(ls "$work/package/${package}_${version}_"*.deb 2>/dev/null || true)"
  [[ -n "$deb" ]] || fail "no package $package $version"
  [[ "$(dpkg-deb -f "$deb" Package)" == "$package" ]] || fail "$deb is not $package"
  dpkg-deb -x "$deb" "$root"
done
deb_dev="$(ls "$work/package/instasent-dev_${version}_"*.deb)"
dpkg-deb -f "$deb_dev" Depends | grep -q "instasent (= $version)" ||
  fail "instasent-dev does not depend on its library"
libdir="$(dirname "$(find "$root/usr/lib" -name "libinstasent.so.$version" | head -n 1)")"
[[ -d "$libdir" ]] || fail "no libinstasent.so.$version"
soversion="$(echo "$version" | cut -d. -f1-2)"
[[ "$(echo "$version" | cut -d. -f1)" != 0 ]] && soversion="$(echo "$version" | cut -d. -f1)"
soname="$(readelf -d "$libdir/libinstasent.so.$version" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')"
[[ "$soname" == "libinstasent.so.$soversion" ]] || fail "soname $soname, not libinstasent.so.$soversion"
for file in usr/include/instasent/instasent.hpp usr/include/instasent/version.hpp \
  usr/include/instasent/export.hpp usr/bin/instasent usr/bin/instasent-emulator \
  "${libdir#"$root"/}/libinstasent.so" "${libdir#"$root"/}/pkgconfig/instasent.pc" \
  "${libdir#"$root"/}/cmake/instasent/instasentConfig.cmake"; do
  [[ -e "$root/$file" ]] || fail "the packages hold no /$file"
done
log "packages: instasent, instasent-dev, instasent-tools $version; soname $soname"

# The tools package holds the man pages and the docs; each page reads (groff, without a warning)
# as the program's, and the doc that --help names is in the package.
deb_tools="$(ls "$work/package/instasent-tools_${version}_"*.deb)"
tools_files="$(dpkg-deb -c "$deb_tools" | awk '{print $6}')"
for file in usr/share/man/man1/instasent.1.gz usr/share/man/man1/instasent-emulator.1.gz \
  usr/share/doc/instasent/cli.md usr/share/doc/instasent/emulator.md; do
  grep -qxF "./$file" <<<"$tools_files" || fail "instasent-tools holds no /$file"
done
for program in instasent instasent-emulator; do
  page="$root/usr/share/man/man1/$program.1.gz"
  gzip -t "$page" || fail "$program.1.gz is not valid gzip"
  zcat "$page" | groff -man -Tutf8 -ww -P-cbou >"$work/$program.txt" 2>"$work/groff.txt" ||
    fail "groff cannot render $program.1"
  [[ ! -s "$work/groff.txt" ]] || fail "groff warns about $program.1: $(head -n 3 "$work/groff.txt")"
  grep -q "^ *$program - " "$work/$program.txt" || fail "$program.1 has no NAME line for $program"
  grep -q "^ *$program $version " "$work/$program.txt" || fail "$program.1 is not of $version"
  doc="$(LD_LIBRARY_PATH="$libdir" "$root/usr/bin/$program" --help |
    sed -n "s|^See man $program, or \(/usr/share/doc/instasent/[a-z]*\.md\)\.\$|\1|p")"
  [[ -n "$doc" && -f "$root$doc" ]] || fail "$program --help names no doc of the package"
  grep -qF "$doc" "$work/$program.txt" || fail "$program.1 does not name $doc"
done
grep -q "instasent import contacts" "$work/instasent.txt" || fail "instasent.1 has no commands"
log "man pages: instasent.1, instasent-emulator.1; docs: cli.md, emulator.md"

# The shared library exports what the public headers declare, and nothing of instasent::detail,
# nlohmann or the standard library.
exports="$work/exports.txt"
nm -D --defined-only "$libdir/libinstasent.so.$version" | awk '{print $3}' | c++filt >"$exports"
if grep -E '^(instasent::detail|nlohmann|std::|typeinfo for std|vtable for std|.*anonymous namespace)' \
  "$exports" >"$work/unwanted.txt"; then
  head -n 20 "$work/unwanted.txt" >&2
  fail "the library exports $(wc -l <"$work/unwanted.txt") symbols that are not the public API"
fi
# Every strong definition of the API in the objects (instasent::, not detail) is exported:
# nothing the headers declare was left hidden.
missing=0
for object in "$work/package/CMakeFiles/instasent_objects.dir/src/"*.o; do
  readelf -sW "$object" | awk '$5 == "GLOBAL" && $7 != "UND" {print $8}' | c++filt
done | grep -E '^((typeinfo|vtable|typeinfo name) for )?instasent::' | grep -v '^instasent::detail' |
  sort -u >"$work/api.txt"
while IFS= read -r symbol; do
  grep -qxF "$symbol" "$exports" || {
    log "not exported: $symbol"
    missing=1
  }
done <"$work/api.txt"
((missing == 0)) || fail "public symbols are hidden (INSTASENT_EXPORT missing)"
log "exports: $(wc -l <"$exports") symbols, $(wc -l <"$work/api.txt") of them the API's strong definitions"

# --- 2. The emulator from the tools package -------------------------------------------------
state="$work/emulator"
fixture="$repo/tools/emulator/fixture/emulator-fixture.sh"
bash "$fixture" start "$state" "$root/usr/bin/instasent-emulator" --response-shape documented
trap 'bash "$fixture" stop "$state" || true' EXIT
export INSTASENT_PROJECT=proj_demo INSTASENT_DATASOURCE=ds_demo INSTASENT_TOKEN=demo-token
INSTASENT_BASE_URL="http://127.0.0.1:$(cat "$state/port")/v1"
export INSTASENT_BASE_URL

run_consumer() {
  local how="$1" program="$2"
  shift 2
  local output
  output="$("$@" "$program")" || fail "the consumer built with $how failed"
  log "$how: $output"
}

# find_package against the unpacked packages.
cmake -S "$consumer" -B "$work/find_package" -DINSTASENT_CONSUME=find_package \
  -DCMAKE_PREFIX_PATH="$root/usr" >/dev/null
cmake --build "$work/find_package" >/dev/null
run_consumer find_package "$work/find_package/consumer" env LD_LIBRARY_PATH="$libdir"

# pkg-config against the unpacked packages (their prefix is the root's /usr, not /usr).
pc() { PKG_CONFIG_PATH="$1" pkg-config --define-variable=prefix="$2" "${@:3}" instasent; }
# shellcheck disable=SC2046  # the flags are words
c++ -std=c++17 -o "$work/pkgconfig-shared" "$consumer/main.cpp" \
  $(pc "$libdir/pkgconfig" "$root/usr" --cflags --libs)
run_consumer "pkg-config" "$work/pkgconfig-shared" env LD_LIBRARY_PATH="$libdir"

# pkg-config --static against a static install: libcurl and -pthread come from the private
# requirements.
static_build="${STATIC_BUILD_DIR:-$repo/build}"
if [[ ! -f "$static_build/CMakeCache.txt" ]] || grep -q '^BUILD_SHARED_LIBS:BOOL=ON' "$static_build/CMakeCache.txt"; then
  static_build="$work/static"
  cmake -S . -B "$static_build" -DCMAKE_BUILD_TYPE=Release -DINSTASENT_BUILD_TESTS=OFF \
    -DINSTASENT_BUILD_EXAMPLES=OFF -DINSTASENT_BUILD_BENCHMARKS=OFF -DINSTASENT_BUILD_TOOLS=OFF >/dev/null
fi
cmake --build "$static_build" -j"$(nproc)" --target instasent >/dev/null
rm -rf "$work/static-root"
cmake --install "$static_build" --prefix "$work/static-root" --component dev >/dev/null
static_pc="$(dirname "$(find "$work/static-root" -name instasent.pc | head -n 1)")"
# shellcheck disable=SC2046
c++ -std=c++17 -o "$work/pkgconfig-static" "$consumer/main.cpp" \
  $(pc "$static_pc" "$work/static-root" --static --cflags --libs)
if ldd "$work/pkgconfig-static" | grep -q libinstasent; then fail "the static link used a shared library"; fi
run_consumer "pkg-config --static" "$work/pkgconfig-static" env

# A user's tests with the emulator: the CMake fixture and the GoogleTest helper, as installed.
cmake -S "$repo/tests/packaging/emulator_consumer" -B "$work/emulator_consumer" \
  -DCMAKE_PREFIX_PATH="$root/usr" -DTEST_SOURCE="$repo/tests/emulator_sdk/emulator_helper_test.cpp" \
  >/dev/null
cmake --build "$work/emulator_consumer" >/dev/null
grep -q "INSTASENT_EMULATOR_EXECUTABLE:FILEPATH=$root/usr/bin/instasent-emulator" \
  "$work/emulator_consumer/CMakeCache.txt" || fail "the fixture did not find the packaged emulator"
LD_LIBRARY_PATH="$libdir" ctest --test-dir "$work/emulator_consumer" --output-on-failure >/dev/null ||
  fail "a user's tests with the packaged emulator fixture and helper failed"
log "emulator in a user's tests: the fixture and the helper pass"

# --- 3. As a subproject ---------------------------------------------------------------------
# Configured, built and installed as a subproject: the parent's build type and flags unchanged,
# no -Werror, none of the SDK's tests, nothing of the SDK installed with the parent.
check_parent() {
  local dir="$1" how="$2"
  grep -qx 'CMAKE_BUILD_TYPE=' "$dir/parent.txt" || fail "$how: the SDK set the parent's build type"
  grep -qx 'CMAKE_CXX_FLAGS=' "$dir/parent.txt" || fail "$how: the SDK changed the parent's flags"
  if grep -q -- '-Werror' "$dir/compile_commands.json"; then fail "$how: -Werror in a parent's build"; fi
  if grep -q '_test\.cpp' "$dir/compile_commands.json"; then fail "$how: the SDK's tests are built"; fi
  cmake --build "$dir" -j"$(nproc)" --target consumer >/dev/null
  rm -rf "$dir/installed"
  cmake --install "$dir" --prefix "$dir/installed" >/dev/null
  local installed
  installed="$(cd "$dir/installed" && find . -type f | sort | tr '\n' ' ')"
  [[ "$installed" == "./bin/consumer " ]] || fail "$how: the parent's install also installed: $installed"
}

cmake -S "$consumer" -B "$work/subdirectory" -DINSTASENT_CONSUME=add_subdirectory \
  -DINSTASENT_SOURCE_DIR="$repo" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
check_parent "$work/subdirectory" add_subdirectory
run_consumer add_subdirectory "$work/subdirectory/consumer" env

rm -rf "$work/fetchcontent"
cmake -S "$consumer" -B "$work/fetchcontent" -DINSTASENT_CONSUME=fetchcontent \
  -DINSTASENT_GIT_REPOSITORY="file://$repo" -DINSTASENT_GIT_TAG="$(git -C "$repo" rev-parse HEAD)" \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
check_parent "$work/fetchcontent" fetchcontent
run_consumer fetchcontent "$work/fetchcontent/consumer" env

log "all passed"
