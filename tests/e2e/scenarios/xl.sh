#!/bin/sh
# xl: `xl create` with virtio_grant devices, through the patched xl and
# libxl of xen-patches/ (`make e2e-xl` builds them and puts them in dom0;
# with the packaged xl the scenario fails at once saying so).
#  1. Bad configs (unknown type, missing target, region=abc, mode=bogus,
#     an unknown key, a bad number, a backend domain that does not
#     exist): each `xl create` fails naming the key and the value, and
#     creates no domain and no xenstore directory.
#  2. vgrantd not running: `xl create` fails within libxl's device
#     timeout, naming vgrantd, and leaves nothing behind.
#  3. vgrantd in dom0 and a domU whose cfg has two devices, mode=grant and
#     mode=static,region=4M, and no `vgrant attach`: the xenstore keys and
#     permissions are protocol.h's; the guest verifies data on the grant
#     device (blk-verify, devid 0) and dom0's checksum of the backing file
#     agrees; the static device is verified the same way when vgrantd and
#     libvgrant serve static mode, otherwise the scenario says what it
#     checked (keys, backend state) and why the data check did not run.
#     A third entry, type=rng with rate=64K (devid 2), gets rng's keys
#     only (type, rate; no target or readonly) and the guest reads 256 KiB
#     from it with vgrant-io rng.
#     `xl virtio-grant-list` shows them, `xl virtio-grant-detach` removes
#     one, `xl virtio-grant-attach` hot-plugs another, and after
#     `xl destroy` none of the guest's directories remains.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd xl xenstore-ls xenstore-read xenstore-list
need_guest_bin vgrant-io

need_patched_xl

img=$E2E_WORK/xl-grant.img
simg=$E2E_WORK/xl-static.img
himg=$E2E_WORK/xl-hotplug.img
span=$((8 * 1024 * 1024))
for f in "$img" "$simg" "$himg"; do
    dd if=/dev/zero of="$f" bs=1M count=16 2>/dev/null || fail "cannot create $f"
done

# What a failed `xl create` must leave as it was.
xs_snapshot() {
    echo "domains: $(xenstore-list /local/domain 2>/dev/null | tr '\n' ' ')"
    echo "libxl: $(xenstore-list /libxl 2>/dev/null | tr '\n' ' ')"
    echo "backends: $(xenstore-list /local/domain/0/backend/virtio-grant 2>/dev/null | tr '\n' ' ')"
}

xs_absent() { ! xenstore-read "$1" >/dev/null 2>&1 && ! xenstore-list "$1" >/dev/null 2>&1; }

expect_key() { # PATH VALUE
    _v=$(xenstore-read "$1" 2>/dev/null) || fail "xenstore key $1 is missing"
    [ "$_v" = "$2" ] || fail "xenstore key $1 is '$_v', expected '$2'"
}

# perms_of PATH: the permission list xenstore-ls -p shows for a node
perms_of() {
    xenstore-ls -p "${1%/*}" 2>/dev/null |
        sed -n "s/^${1##*/} = .*(\([^()]*\))\$/\1/p" | head -n1
}

# ------------------------------------------------- 1. bad configs --------
bad_config() { # NAME EXPECTED-TEXT SPEC
    _before=$(xs_snapshot)
    if start_guest "$1" blk-verify "virtio_grant = [ \"$3\" ]" >/dev/null; then
        fail "xl create accepted virtio_grant '$3'"
    fi
    _out=$(tr '\n' ' ' <"$E2E_WORK/xl-create-$1.log")
    case $_out in
        *"$2"*) ;;
        *) fail "xl create refused '$3' without naming '$2': $_out" ;;
    esac
    xl domid "$1" >/dev/null 2>&1 && fail "domain $1 exists after its xl create failed"
    [ "$(xs_snapshot)" = "$_before" ] ||
        fail "xenstore changed after the failed xl create of '$3': $(xs_snapshot | tr '\n' ' ')"
    log "ok: refused '$3': $(grep -F -- "$2" "$E2E_WORK/xl-create-$1.log" | head -n1)"
}

bad_config xlbad-type "type=bogus" "type=bogus, target=$img"
bad_config xlbad-target "missing target=" "type=blk, mode=grant"
bad_config xlbad-region "region=abc" "type=blk, target=$img, mode=static, region=abc"
bad_config xlbad-mode "mode=bogus" "type=blk, target=$img, mode=bogus"
bad_config xlbad-key "colour=blue" "type=blk, target=$img, colour=blue"
bad_config xlbad-number "queue-size=300" "type=blk, target=$img, queue-size=300"
bad_config xlbad-backend "backend=77" "type=blk, target=$img, backend=77"
bad_config xlbad-rngtarget "type rng has no key target" "type=rng, target=$img"
bad_config xlbad-rngrate "rate=0" "type=rng, rate=0"
bad_config xlbad-blkrate "type blk has no key rate" "type=blk, target=$img, rate=4K"

# ---------------------------------------- 2. vgrantd not running --------
pgrep -x vgrantd >/dev/null 2>&1 && fail "a vgrantd is already running in dom0"
before=$(xs_snapshot)
t0=$(_now)
if start_guest xlnod blk-verify "virtio_grant = [ \"type=blk, target=$img\" ]" >/dev/null; then
    fail "xl create succeeded although no vgrantd runs"
fi
took=$(($(_now) - t0))
sed 's/^/    xl: /' "$E2E_WORK/xl-create-xlnod.log" | grep virtio-grant
grep -q "virtio-grant device 0: backend domain 0 did not answer (state stays 1): is vgrantd running in domain 0?" \
    "$E2E_WORK/xl-create-xlnod.log" || fail "xl create without vgrantd did not name vgrantd"
# libxl's device timeout is 10 s; domain build and teardown under emulation
[ "$took" -le 60 ] || fail "xl create without vgrantd took $took s to fail"
xl domid xlnod >/dev/null 2>&1 && fail "domain xlnod exists after its xl create failed"
[ "$(xs_snapshot)" = "$before" ] ||
    fail "xenstore changed after the xl create without vgrantd: $(xs_snapshot | tr '\n' ' ')"
log "ok: without vgrantd xl create failed after $took s and left nothing behind"

# ----------------------------------------- 3. two devices, no attach -----
# dom0: gntdev may cap the grants one process maps (a 4 MiB region is
# 1024 pages)
limit=/sys/module/xen_gntdev/parameters/limit
if [ -w "$limit" ]; then echo 1048576 >"$limit"; fi

start_vgrantd vgrantd --log-level info
sleep 1
rngcfg="\"type=rng, rate=64K, devid=2\""
cfg="virtio_grant = [ \"type=blk, target=$img, backend=0, mode=grant, readonly=0, queues=1, queue-size=256\", \"type=blk, target=$simg, mode=static, region=4M\", $rngcfg ]"
devids=0,1
static_state="refused"
if ! start_guest -k -m 160 -a devids=0,1 -a rng_devids=2 -a span=$span -a cksum=1 -a seed=31 \
        xl1 xl-verify "$cfg"; then
    grep -q "virtio-grant device 1: backend domain 0 refused" "$E2E_WORK/xl-create-xl1.log" ||
        { bg_log vgrantd | tail -20; fail "xl create of xl1 (two virtio_grant devices) failed"; }
    log "STATIC: vgrantd refused the mode=static device; going on with the grant device alone"
    bg_log vgrantd | grep -i static | tail -5
    devids=0
    start_guest -k -m 160 -a devids=0 -a rng_devids=2 -a span=$span -a cksum=1 -a seed=31 xl1 xl-verify \
        "virtio_grant = [ \"type=blk, target=$img, backend=0, mode=grant, readonly=0, queues=1, queue-size=256\", $rngcfg ]" ||
        fail "xl create of xl1 with the grant device alone failed"
fi
domid=$(guest_domid xl1)
[ -n "$domid" ] || fail "no domid for xl1"

be0=/local/domain/0/backend/virtio-grant/$domid/0
fe0=/local/domain/$domid/device/virtio-grant/0
expect_key "$be0/frontend" "$fe0"
expect_key "$be0/frontend-id" "$domid"
expect_key "$be0/online" 1
expect_key "$be0/type" blk
expect_key "$be0/target" "$img"
expect_key "$be0/readonly" 0
expect_key "$be0/mode" grant
expect_key "$be0/queues" 1
expect_key "$be0/queue-size" 256
xs_absent "$be0/region" || fail "$be0/region exists for a grant-mode device"
expect_key "$fe0/backend" "$be0"
expect_key "$fe0/backend-id" 0
[ "$(perms_of "$be0")" = "n0,r$domid" ] || fail "$be0 has permissions '$(perms_of "$be0")', expected n0,r$domid"
[ "$(perms_of "$fe0")" = "n$domid,r0" ] || fail "$fe0 has permissions '$(perms_of "$fe0")', expected n$domid,r0"
st=$(xenstore-read "$be0/state")
case $st in 2|3|4) ;; *) fail "backend state of device 0 is '$st' after xl create (expected InitWait or later)" ;; esac
log "ok: device 0 (grant): keys and permissions as protocol.h says, backend state $st"

if [ "$devids" = 0,1 ]; then
    be1=/local/domain/0/backend/virtio-grant/$domid/1
    fe1=/local/domain/$domid/device/virtio-grant/1
    expect_key "$be1/frontend" "$fe1"
    expect_key "$be1/frontend-id" "$domid"
    expect_key "$be1/online" 1
    expect_key "$be1/type" blk
    expect_key "$be1/target" "$simg"
    expect_key "$be1/mode" static
    expect_key "$be1/region" 4194304
    expect_key "$fe1/backend" "$be1"
    expect_key "$fe1/backend-id" 0
    [ "$(perms_of "$be1")" = "n0,r$domid" ] || fail "$be1 has permissions '$(perms_of "$be1")'"
    [ "$(perms_of "$fe1")" = "n$domid,r0" ] || fail "$fe1 has permissions '$(perms_of "$fe1")'"
    st=$(xenstore-read "$be1/state")
    case $st in 2|3|4) static_state="answered" ;; *) fail "backend state of device 1 is '$st' after xl create" ;; esac
    log "ok: device 1 (static, 4M): keys and permissions as protocol.h says, backend state $st"
fi

be2=/local/domain/0/backend/virtio-grant/$domid/2
fe2=/local/domain/$domid/device/virtio-grant/2
expect_key "$be2/frontend" "$fe2"
expect_key "$be2/type" rng
expect_key "$be2/rate" 65536
expect_key "$be2/mode" grant
expect_key "$be2/queues" 1
xs_absent "$be2/target" || fail "$be2/target exists for an rng device"
xs_absent "$be2/readonly" || fail "$be2/readonly exists for an rng device"
expect_key "$fe2/backend" "$be2"
[ "$(perms_of "$be2")" = "n0,r$domid" ] || fail "$be2 has permissions '$(perms_of "$be2")'"
st=$(xenstore-read "$be2/state")
case $st in 2|3|4) ;; *) fail "backend state of device 2 (rng) is '$st' after xl create" ;; esac
log "ok: device 2 (rng, rate=64K): rng's keys only, backend state $st"

xl virtio-grant-list xl1 | tee "$E2E_WORK/xl-list.txt" | sed 's/^/    /'
grep -q "^$domid  *2  *0  *rng  *grant " "$E2E_WORK/xl-list.txt" ||
    fail "xl virtio-grant-list does not show device 2 (rng)"
grep -q "^$domid  *0  *0  *blk  *grant .*$img\$" "$E2E_WORK/xl-list.txt" ||
    fail "xl virtio-grant-list does not show device 0 (grant, $img)"
if [ "$devids" = 0,1 ]; then
    grep -q "^$domid  *1  *0  *blk  *static .*$simg\$" "$E2E_WORK/xl-list.txt" ||
        fail "xl virtio-grant-list does not show device 1 (static, $simg)"
fi

wait_guest xl1 400
rc=$?
guest_log xl1 | sed 's/^/    xl1| /'
[ "$rc" = 0 ] || { bg_log vgrantd | tail -20; fail "guest job on the grant device failed (rc $rc)"; }
guest_sum=$(guest_log xl1 | sed -n 's/^GUEST-CKSUM-0 //p' | tail -n1)
host_sum=$(dd if="$img" bs=1M count=$((span / 1048576)) 2>/dev/null | cksum)
[ -n "$guest_sum" ] || fail "guest printed no checksum for device 0"
[ "$guest_sum" = "$host_sum" ] || fail "device 0: guest cksum '$guest_sum', dom0 cksum of $img '$host_sum'"
log "ok: device 0 (grant): guest data verified, checksum $guest_sum matches $img"
guest_log xl1 | grep -q "^GUEST-RNG 2 rc=0" ||
    fail "the guest could not read from the rng device (devid 2): $(guest_log xl1 | grep -E 'RNG|rng' | tail -3 | tr '\n' ' ')"
log "ok: device 2 (rng): $(guest_log xl1 | grep '^rng: device 2' | tail -n1)"

static_data="not run"
if [ "$devids" = 0,1 ]; then
    src=$(guest_log xl1 | sed -n 's/^GUEST-DEV 1 rc=\([0-9]*\).*/\1/p' | tail -n1)
    guest_sum=$(guest_log xl1 | sed -n 's/^GUEST-CKSUM-1 //p' | tail -n1)
    host_sum=$(dd if="$simg" bs=1M count=$((span / 1048576)) 2>/dev/null | cksum)
    if [ "$src" = 0 ] && [ -n "$guest_sum" ] && [ "$guest_sum" = "$host_sum" ]; then
        static_data="verified (checksum $guest_sum matches $simg)"
    else
        static_data="FAILED (guest rc ${src:-none}, guest cksum '${guest_sum}', dom0 cksum '$host_sum')"
    fi
fi

# detach the static device (or the grant one if static was refused)
det=1
[ "$devids" = 0,1 ] || det=0
check "xl virtio-grant-detach xl1 $det" xl virtio-grant-detach xl1 "$det"
xs_absent "/local/domain/0/backend/virtio-grant/$domid/$det" || fail "backend dir of device $det remains after detach"
xs_absent "/local/domain/$domid/device/virtio-grant/$det" || fail "frontend dir of device $det remains after detach"
xs_absent "/libxl/$domid/device/virtio-grant/$det" || fail "libxl's dir of device $det remains after detach"
xl virtio-grant-list xl1 | grep -q "^$domid  *$det " && fail "xl virtio-grant-list still shows device $det"
log "ok: xl virtio-grant-detach removed device $det"

# hot-plug a read-only device into the running guest
check "xl virtio-grant-attach" xl virtio-grant-attach xl1 "type=blk,target=$himg,readonly=1"
xl virtio-grant-list xl1 | tee "$E2E_WORK/xl-list2.txt" | sed 's/^/    /'
hdev=$(sed -n "s|^$domid  *\([0-9]*\)  *0  *blk  *grant  *1 .*$himg\$|\1|p" "$E2E_WORK/xl-list2.txt")
[ -n "$hdev" ] || fail "xl virtio-grant-list does not show the hot-plugged device"
expect_key "/local/domain/0/backend/virtio-grant/$domid/$hdev/readonly" 1
st=$(xenstore-read "/local/domain/0/backend/virtio-grant/$domid/$hdev/state")
case $st in 2|3|4) ;; *) fail "hot-plugged device $hdev: backend state '$st'" ;; esac
log "ok: xl virtio-grant-attach added device $hdev (read-only), backend state $st"

# destroy: libxl removes what is left
stop_guest xl1
xl domid xl1 >/dev/null 2>&1 && fail "xl1 still exists after xl destroy"
xs_absent "/local/domain/0/backend/virtio-grant/$domid" ||
    fail "/local/domain/0/backend/virtio-grant/$domid remains after xl destroy: $(xenstore-ls "/local/domain/0/backend/virtio-grant/$domid" | head -5 | tr '\n' ' ')"
xs_absent "/local/domain/$domid/device/virtio-grant" || fail "the frontend directory remains after xl destroy"
xs_absent "/libxl/$domid" || fail "/libxl/$domid remains after xl destroy"
log "ok: after xl destroy no virtio-grant directory of domain $domid remains"
bg_log vgrantd | grep -i "released" | sed 's/^/    vgrantd| /' | tail -n 4

if [ "$static_state" = refused ]; then
    log "STATIC: vgrantd refused mode=static: only the grant device was checked with data; the static device's keys were not inspected"
else
    log "STATIC: mode=static device: keys, permissions and backend InitWait checked; data $static_data"
fi
case $static_data in FAILED*) fail "static device data check $static_data" ;; esac
log "all checks passed"
