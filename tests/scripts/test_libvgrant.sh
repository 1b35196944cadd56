#!/usr/bin/env bash
# libvgrant.so as the packages ship it:
#  - its SONAME is libvgrant.so.<N> (N = SOMAJOR of the Makefile);
#  - it exports exactly the functions declared in the public headers
#    (frontend/libvgrant.h, frontend/vgrant_blk.h) plus vg_hyp_xen_open and
#    the vg_log_{init,set_level,parse_level} settings, nothing else;
#  - `make install DESTDIR=... PREFIX=/usr` installs it with its headers,
#    vgrant.pc and the man pages, and docs/examples/vgrant-capacity.c builds
#    with `pkg-config --cflags --libs vgrant` alone and runs against the
#    installed library (outside Xen it must fail cleanly, naming the Xen
#    interfaces, exit 1);
#  - vgrant-io links libvgrant.so.N dynamically (no copy of the library's
#    functions of its own) and finds it, in the build tree and installed.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${VGRANT_BUILD:-build}
fail=0
err() { echo "test_libvgrant: FAIL: $*" >&2; fail=1; }
for c in pkg-config readelf nm cc make; do
    command -v "$c" >/dev/null || { err "$c not found (make deps)"; exit 1; }
done
somajor=$(sed -n 's/^SOMAJOR[[:space:]]*:=[[:space:]]*//p' "$repo/Makefile")
so=$repo/$build/lib/libvgrant.so.$somajor
[ -f "$so" ] || { err "$so not built"; exit 1; }

soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libvgrant.so.$somajor" ] || err "SONAME is '$soname', expected libvgrant.so.$somajor"

exported=$(nm -D --defined-only "$so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u)
declared=$( { cat "$repo/frontend/libvgrant.h" "$repo/frontend/vgrant_blk.h" |
              grep -oE '\b(vgf_[a-z_]+)\(' | tr -d '(';
              echo vg_hyp_xen_open; echo vg_log_init; echo vg_log_set_level
              echo vg_log_parse_level; } | sort -u)
extra=$(comm -23 <(echo "$exported") <(echo "$declared"))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
[ -z "$extra" ] || err "libvgrant.so exports functions outside the public API: $(echo $extra)"
[ -z "$missing" ] || err "public functions libvgrant.so does not export: $(echo $missing) (frontend/libvgrant.map)"
[ "$(wc -l <<<"$exported")" -gt 30 ] || err "only $(wc -l <<<"$exported") exported functions: nm parse error?"

# vgrant-io uses the shared library, not a static copy of it: NEEDED
# libvgrant.so.N, no definition of an API function of its own, and the
# loader resolves the library beside it: through RUNPATH $ORIGIN/../lib,
# or, built with IO_RPATH= (the Debian build) and so without a RUNPATH,
# through LD_LIBRARY_PATH
io=$repo/$build/bin/vgrant-io
runpath=$(readelf -d "$io" 2>/dev/null | sed -n 's/.*Library runpath: \[\(.*\)\]/\1/p')
# io_ldd FILE LIBDIR: ldd as the loader would run FILE installed beside LIBDIR
io_ldd() { if [ -n "$runpath" ]; then env -u LD_LIBRARY_PATH ldd "$1"; else LD_LIBRARY_PATH=$2 ldd "$1"; fi; }
if [ -x "$io" ]; then
    # shellcheck disable=SC2016
    [ -z "$runpath" ] || [ "$runpath" = '$ORIGIN/../lib' ] || err "vgrant-io has RUNPATH '$runpath', expected \$ORIGIN/../lib or none"
    io_needed=$(readelf -d "$io" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
    grep -qx "libvgrant.so.$somajor" <<<"$io_needed" ||
        err "vgrant-io does not link libvgrant.so.$somajor dynamically (needs: $(echo $io_needed))"
    io_own=$(nm --defined-only "$io" | awk '$2 == "T" { print $3 }' | sort -u | comm -12 - <(echo "$declared"))
    [ -z "$io_own" ] || err "vgrant-io carries its own copy of library functions: $(echo $io_own)"
    io_ldd "$io" "$repo/$build/lib" | grep -q "libvgrant.so.$somajor => $repo/$build/\(bin/\.\./\)\{0,1\}lib/libvgrant.so.$somajor" ||
        err "vgrant-io does not find $build/lib/libvgrant.so.$somajor (RUNPATH '$runpath'): $(io_ldd "$io" "$repo/$build/lib" | grep vgrant)"
else
    err "$io not built"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s -C "$repo" --no-print-directory install DESTDIR="$tmp/root" PREFIX=/usr \
    BINDIR=/usr/bin SBINDIR=/usr/sbin LIBDIR=/usr/lib INCDIR=/usr/include/libvgrant \
    MANDIR=/usr/share/man \
    BUILD="$build" SAN="${VGRANT_SAN:-0}" >"$tmp/install.log" 2>&1 ||
    { err "make install failed: $(tail -n 5 "$tmp/install.log")"; exit 1; }
for f in usr/sbin/vgrantd usr/sbin/vgrant usr/bin/vgrant-io usr/lib/libvgrant.so.$somajor \
         usr/lib/libvgrant.so usr/lib/pkgconfig/vgrant.pc usr/include/libvgrant/libvgrant.h \
         usr/include/libvgrant/vgrant_blk.h usr/include/libvgrant/vgrant/hyp.h \
         usr/share/man/man8/vgrantd.8 usr/share/man/man8/vgrant.8 \
         usr/share/man/man1/vgrant-io.1 usr/share/man/man7/virtio-grant.7; do
    [ -e "$tmp/root/$f" ] || err "make install did not install /$f"
done
# pkg-config with the installed tree: point its variables into DESTDIR
export PKG_CONFIG_PATH=$tmp/root/usr/lib/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$tmp/root
flags=$(pkg-config --cflags --libs vgrant) || { err "pkg-config --cflags --libs vgrant failed"; exit 1; }
grep -q -- "-lvgrant" <<<"$flags" || err "pkg-config --libs vgrant has no -lvgrant: $flags"
san=()
[ "${VGRANT_SAN:-0}" = 1 ] && san=(-fsanitize=address,undefined)
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror "${san[@]}" -o "$tmp/vgrant-capacity" \
    "$repo/docs/examples/vgrant-capacity.c" $flags 2>"$tmp/cc.log" ||
    err "the example does not build with pkg-config's flags ($flags): $(cat "$tmp/cc.log")"
if [ -x "$tmp/vgrant-capacity" ]; then
    needed=$(readelf -d "$tmp/vgrant-capacity" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
    grep -qx "libvgrant.so.$somajor" <<<"$needed" || err "the example does not link libvgrant.so.$somajor dynamically (needs: $(echo $needed))"
    out=$(LD_LIBRARY_PATH=$tmp/root/usr/lib "$tmp/vgrant-capacity" 0 2>&1); rc=$?
    if [ -e /dev/xen/gntalloc ]; then
        echo "test_libvgrant: running under Xen: example exit $rc: $out"
    else
        [ "$rc" = 1 ] || err "outside Xen the example exited $rc, expected 1: $out"
        grep -q "cannot open the Xen interfaces" <<<"$out" || err "the example did not say what failed: $out"
    fi
    LD_LIBRARY_PATH=$tmp/root/usr/lib ldd "$tmp/vgrant-capacity" | grep -q "libvgrant.so.$somajor => $tmp/root/usr/lib/" ||
        err "the example does not resolve libvgrant from the installed tree"
fi
# the installed vgrant-io finds the installed library (LIBDIR = PREFIX/lib)
if [ -x "$tmp/root/usr/bin/vgrant-io" ]; then
    io_ldd "$tmp/root/usr/bin/vgrant-io" "$tmp/root/usr/lib" | grep -q "libvgrant.so.$somajor => $tmp/root/usr/\(bin/\.\./\)\{0,1\}lib/libvgrant.so.$somajor" ||
        err "the installed vgrant-io does not resolve the installed libvgrant.so.$somajor: $(io_ldd "$tmp/root/usr/bin/vgrant-io" "$tmp/root/usr/lib" | grep vgrant)"
    if [ -n "$runpath" ]; then
        env -u LD_LIBRARY_PATH "$tmp/root/usr/bin/vgrant-io" --help >/dev/null 2>&1 || err "the installed vgrant-io --help failed"
    else
        LD_LIBRARY_PATH=$tmp/root/usr/lib "$tmp/root/usr/bin/vgrant-io" --help >/dev/null 2>&1 || err "the installed vgrant-io --help failed"
    fi
fi
[ "$fail" = 0 ] && echo "test_libvgrant: SONAME $soname, $(wc -l <<<"$exported") exported functions = the public API; make install + pkg-config vgrant build and run the example; vgrant-io links libvgrant.so.$somajor"
exit "$fail"
