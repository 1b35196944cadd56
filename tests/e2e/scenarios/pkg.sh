#!/bin/sh
# pkg: the Debian packages are what runs (make e2e-deb; images built from
# the .debs by tests/e2e/image-debs.sh).
# - dom0: every file of virtio-grant matches the package's own md5sums;
#   vgrantd is /usr/sbin/vgrantd, started as vgrantd.service says
#   (start_vgrantd: ExecStart with /etc/default/vgrantd's VGRANTD_OPTS,
#   RuntimeDirectory /run/vgrantd mode 0700, UMask): its /proc/PID/cmdline
#   must be exactly the unit's command line, and vgrant reaches it on
#   /run/vgrantd/control.sock;
# - guest (job pkg-guest): every file of virtio-grant-guest matches the
#   package's md5sums, vgrant-io is /usr/bin/vgrant-io and the dynamic
#   loader resolves its libvgrant.so.0 to the packaged file, also while it
#   does verified I/O on a device vgrantd serves; the DKMS-built module is
#   where DKMS puts it (updates/dkms) and modprobe knows it;
# - `systemctl reload` as the unit's ExecReload says: new VGRANTD_OPTS in
#   /etc/default/vgrantd, SIGHUP to the main pid; vgrantd applies the new
#   budget and the device stays attached.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/unit.lib"
[ "${E2E_PACKAGED:-0}" = 1 ] ||
    fail "not an image built from the packages: run it with make e2e-deb (no /etc/e2e/packages)"
need_bin xl vgrant md5sum
need_guest_bin vgrant-io

grep -q '^virtio-grant ' /etc/e2e/packages || fail "/etc/e2e/packages does not list virtio-grant"
log "packages: $(cut -d' ' -f1,2 /etc/e2e/packages | tr '\n' ' ')"
(cd / && md5sum -c /var/lib/dpkg/info/virtio-grant.md5sums) >"$E2E_WORK/pkg-md5.out" 2>&1 ||
    { cat "$E2E_WORK/pkg-md5.out"; fail "dom0's files differ from the virtio-grant package"; }
log "ok: $(grep -c ': OK$' "$E2E_WORK/pkg-md5.out") files of virtio-grant match its md5sums"
for f in /usr/sbin/vgrantd /usr/sbin/vgrant; do
    grep -q " ${f#/}\$" /var/lib/dpkg/info/virtio-grant.md5sums || fail "$f is not in the package's md5sums"
done
[ "$(command -v vgrantd)" = /usr/sbin/vgrantd ] || fail "vgrantd in PATH is $(command -v vgrantd), not the packaged /usr/sbin/vgrantd"
[ "$(command -v vgrant)" = /usr/sbin/vgrant ] || fail "vgrant in PATH is $(command -v vgrant), not the packaged /usr/sbin/vgrant"
[ -f "$VGRANTD_UNIT" ] || fail "no $VGRANTD_UNIT from the package"
grep -qx "$VGRANTD_UNIT" /var/lib/dpkg/info/virtio-grant.list ||
    grep -qx "/usr$VGRANTD_UNIT" /var/lib/dpkg/info/virtio-grant.list || fail "$VGRANTD_UNIT is not in virtio-grant's file list"

# vgrantd as the unit starts it
start_vgrantd vgrantd --log-level info
pid=$(cat "$E2E_WORK/vgrantd.pid")
want=$(unit_exec_args "$VGRANTD_UNIT") || fail "cannot map the unit's ExecStart"
i=0
until [ -S /run/vgrantd/control.sock ]; do
    i=$((i + 1))
    [ "$i" -gt 60 ] && { bg_log vgrantd | tail -20; fail "no /run/vgrantd/control.sock 30 s after starting vgrantd"; }
    kill -0 "$pid" 2>/dev/null || { bg_log vgrantd | tail -20; fail "vgrantd (pid $pid) exited"; }
    sleep 0.5
done
got=$(tr '\0' '\n' </proc/"$pid"/cmdline)
oneline() { printf '%s\n' "$1" | tr '\n' ' '; }
[ "$got" = "$want" ] || fail "vgrantd runs as '$(oneline "$got")', the unit says '$(oneline "$want")'"
log "ok: vgrantd (pid $pid) runs the unit's command line: $(oneline "$got")"
[ "$(stat -c %a /run/vgrantd)" = 700 ] || fail "/run/vgrantd has mode $(stat -c %a /run/vgrantd), the unit says RuntimeDirectoryMode=0700"
[ "$(stat -c %a /run/vgrantd/control.sock)" = 600 ] || fail "control socket mode $(stat -c %a /run/vgrantd/control.sock), expected 600"

img=$E2E_WORK/pkg.img
span=$((8 * 1024 * 1024))
dd if=/dev/zero of="$img" bs=1M count=8 2>/dev/null || fail "cannot create $img"
scratch "$img"
start_guest -k -m 128 -a devid=0 -a span=$span pkg1 pkg-guest || fail "xl create of pkg1 failed"
domid=$(guest_domid pkg1)
check "vgrant attach to pkg1 (dom $domid)" vgrant attach pkg1 "type=blk,target=$img"
wait_guest pkg1 300
rc=$?
guest_log pkg1 | sed 's/^/    pkg1| /'
[ "$rc" = 0 ] || { bg_log vgrantd | tail -20; fail "guest job pkg-guest failed (rc $rc)"; }
guest_log pkg1 | grep -q '^PKG-LIB libvgrant.so.0 => ' || fail "the guest printed no PKG-LIB line"
guest_log pkg1 | grep -q '^PKG-DKMS ' || fail "the guest printed no PKG-DKMS line"

# systemctl reload vgrantd: ExecReload with $MAINPID, new options
sed -i 's|^VGRANTD_OPTS=.*|VGRANTD_OPTS="--log-level info --budget 32"|' /etc/default/vgrantd
reload=$(UNIT_MAINPID=$pid unit_exec_args "$VGRANTD_UNIT" "" ExecReload) || fail "cannot map the unit's ExecReload"
log "reload: $(oneline "$reload")"
# shellcheck disable=SC2086  # the words of the command line
$reload || fail "ExecReload ($(oneline "$reload")) failed"
i=0
until bg_log vgrantd | grep -q 'reload: budget .* -> 32 requests'; do
    i=$((i + 1))
    [ "$i" -gt 40 ] && { bg_log vgrantd | tail -20; fail "vgrantd did not apply --budget 32 after SIGHUP"; }
    sleep 0.25
done
kill -0 "$pid" 2>/dev/null || fail "vgrantd exited on reload"
vgrant list "$domid" | grep -q "^$domid " || fail "device of dom $domid gone after the reload"
log "ok: reload applied the new budget, dom $domid's device still attached"
check "vgrant detach" vgrant detach "$domid" 0
stop_guest pkg1
log "all checks passed"
