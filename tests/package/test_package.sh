#!/usr/bin/env bash
# The Debian package test (ctest label `package`): builds the package with scripts/package, inspects
# it (fields, dependencies, contents), unpacks it into a temporary root with dpkg -x and runs the
# installed programs from there: latentcast-cli --version, inspect on a generated CSV, validate on
# the installed demo project, and the GUI's --self-test offscreen, which must find its files next to
# itself (not in the build tree). Usage: test_package.sh SOURCE_DIR BUILD_DIR VERSION
set -euo pipefail
src=$1 build=$2 version=$3
work=$(realpath "$(mktemp -d)")  # the programs see their own paths with links resolved
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

step "build the package"
deb=$(LATENTCAST_BUILD=$build "$src/scripts/package" "$work/pkg" | tail -1)
[ -f "$deb" ] || fail "scripts/package printed '$deb', not a package file"
[ "$(basename "$deb")" = "latentcast_${version}_$(dpkg --print-architecture).deb" ] ||
  fail "unexpected package file name $(basename "$deb")"

step "fields"
dpkg-deb --info "$deb" > "$work/info" || fail "dpkg-deb --info cannot read the package"
grep -q '^ Installed-Size: [0-9]' "$work/info" || fail "no Installed-Size in dpkg-deb --info"
field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package)" = latentcast ] || fail "Package is '$(field Package)'"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', expected $version"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends=$(field Depends)
echo "Depends: $depends"
# Every runtime library family, each with a minimum version.
for pkg in libc6 libstdc++6 libqt6core6 libqt6gui6 libqt6widgets6 libqt6svg6 libqcustomplot2.1-qt6 \
  libtorch1.13; do
  tr ',' '\n' <<< "$depends" | sed 's/^ *//' |
    awk -v want="$pkg (>= " 'index($0, want) == 1 && /\)$/ {found = 1} END {exit !found}' ||
    fail "Depends lacks '$pkg (>= version)'"
done
dep_names=$(tr ',' '\n' <<< "$depends" | sed 's/|.*//; s/(.*//; s/ //g' | sort -u)

step "contents"
dpkg-deb --contents "$deb" | awk '{print $NF}' | sed 's|^\./|/|' > "$work/contents"
for f in /usr/bin/latentcast /usr/bin/latentcast-cli /usr/bin/latentcast-bench \
  /usr/share/latentcast/demo/demo.lcproj /usr/share/applications/latentcast.desktop \
  /usr/share/mime/packages/latentcast.xml /usr/share/icons/hicolor/scalable/apps/latentcast.svg \
  /usr/share/doc/latentcast/README.md /usr/share/doc/latentcast/LICENSE \
  /usr/share/doc/latentcast/copyright; do
  grep -qx "$f" "$work/contents" || fail "the package lacks $f"
done
stray=$(grep -v '/$' "$work/contents" | grep -Ev '^/usr/(bin|share)/' || true)
[ -z "$stray" ] || fail "files outside /usr/bin and /usr/share: $stray"
! grep -q '/usr/bin/test_' "$work/contents" || fail "test programs in the package"

step "unpack into a temporary root"
root=$work/root
dpkg -x "$deb" "$root"
/sbin/ldconfig -p > "$work/ldcache"
for b in latentcast latentcast-cli latentcast-bench; do
  exe=$root/usr/bin/$b
  [ -x "$exe" ] || fail "$b is not executable"
  dynamic=$(readelf -d "$exe") || fail "readelf cannot read $b"
  ! grep -Eq 'RPATH|RUNPATH' <<< "$dynamic" || fail "$b carries an RPATH (build tree paths)"
  # Every shared library it needs belongs to a package the Depends names.
  needed=$(objdump -p "$exe" | awk '$1 == "NEEDED" {print $2}') || fail "objdump cannot read $b"
  [ -n "$needed" ] || fail "$b lists no shared libraries (not a dynamic executable?)"
  for lib in $needed; do
    path=$(awk -v l="$lib" '$1 == l {print $NF; exit}' "$work/ldcache")
    [ -n "$path" ] || fail "$b needs $lib, which is not on this system"
    owner=""
    for p in "$path" "$(readlink -f "$path")" "/usr$path" "${path#/usr}"; do
      owner=$(dpkg -S "$p" 2> /dev/null | sed -n '1s/:.*//p') || true
      [ -n "$owner" ] && break
    done
    [ -n "$owner" ] || fail "no package owns $path ($lib, needed by $b)"
    grep -qx "$owner" <<< "$dep_names" || fail "$b needs $lib from $owner, which Depends lacks"
  done
done

step "desktop entry and MIME type"
desktop=$root/usr/share/applications/latentcast.desktop
desktop-file-validate "$desktop" || fail "desktop-file-validate rejects latentcast.desktop"
exec_name=$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$desktop")
[ -x "$root/usr/bin/$exec_name" ] || fail "the desktop entry runs '$exec_name', which is not installed"
grep -q '^MimeType=application/x-latentcast-project;' "$desktop" ||
  fail "the desktop entry does not open application/x-latentcast-project"
icon=$(sed -n 's/^Icon=//p' "$desktop")
[ -f "$root/usr/share/icons/hicolor/scalable/apps/$icon.svg" ] || fail "icon '$icon' is not installed"
XDG_DATA_DIRS=$root/usr/share update-mime-database "$root/usr/share/mime"
grep -q 'application/x-latentcast-project:\*\.lcproj' "$root/usr/share/mime/globs2" ||
  fail "the MIME database does not map *.lcproj to application/x-latentcast-project"

step "run the installed command line"
cli=$root/usr/bin/latentcast-cli
cli_version=$("$cli" --version) || fail "latentcast-cli --version failed"
grep -qF "$version" <<< "$cli_version" || fail "latentcast-cli --version prints '$cli_version', not $version"
{
  echo "date,load,temp"
  for i in $(seq 0 99); do printf '2024-01-%02d %02d:00:00,%d.5,%d\n' $((i / 24 + 1)) $((i % 24)) $i $((i * 2)); done
} > "$work/series.csv"
"$cli" inspect --csv "$work/series.csv" --json > "$work/inspect.json" || fail "inspect failed"
grep -Eq '"rows": ?100' "$work/inspect.json" || fail "inspect did not count 100 rows: $(cat "$work/inspect.json")"
"$cli" validate --project "$root/usr/share/latentcast/demo/demo.lcproj" > /dev/null ||
  fail "the installed demo project does not validate"

step "the installed GUI's self-test, offscreen"
export QT_QPA_PLATFORM=offscreen HOME=$work/home XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data
mkdir -p "$HOME"
"$root/usr/bin/latentcast" --self-test > "$work/self-test.txt" 2>&1 ||
  { cat "$work/self-test.txt"; fail "latentcast --self-test exited non-zero"; }
cat "$work/self-test.txt"
grep -qx "ok   open the demo project $root/usr/share/latentcast/demo/demo.lcproj" "$work/self-test.txt" ||
  fail "the self-test did not open the demo project installed beside the program"
grep -q "^ok   user data folder $work/data/" "$work/self-test.txt" ||
  fail "user data does not go to the standard location under XDG_DATA_HOME"
! grep -q "$build" "$work/self-test.txt" || fail "the installed program looked in the build tree"

step "the self-test notices a broken installation"
rm "$root/usr/share/latentcast/demo/demo.lcproj"
if "$root/usr/bin/latentcast" --self-test > "$work/broken.txt" 2>&1; then
  fail "the self-test passed without the demo project"
fi
grep -q "^FAIL open the demo project .*: the file is missing" "$work/broken.txt" ||
  fail "the self-test's failure does not name the missing file: $(cat "$work/broken.txt")"
echo "package test passed: $(basename "$deb")"
