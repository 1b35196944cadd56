#!/bin/sh
# rng: two virtio-grant rng devices for one PV domU, served by vgrantd in
# dom0 from its /dev/urandom: device 0 without a limit, device 1 with
# rate=8K.  The guest reads 256 KiB (4 KiB requests) and 4 KiB (64-byte
# requests, as Linux's virtio_rng) from device 0 and 48 KiB from device 1
# with vgrant-io rng (bytes must look random, no completion may be empty)
# and checks that device 1 kept to its rate, completing requests short;
# dom0 checks what `vgrant stats` counted and that nothing stays mapped
# after detach.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl
need_guest_bin vgrant-io

rate=8192
slow_length=49152

start_vgrantd vgrantd --log-level info
start_guest -k -m 128 -a devid=0 -a length=256K -a slow_devid=1 \
    -a slow_rate=$rate -a slow_length=$slow_length rng1 rng-read ||
    fail "xl create of rng1 failed"
domid=$(guest_domid rng1)
check "vgrant attach type=rng to dom $domid" vgrant attach "$domid" "type=rng"
check "vgrant attach type=rng,rate=8K to dom $domid" \
    vgrant attach "$domid" "type=rng,rate=8K,devid=1"
vgrant list "$domid"
# hostile specs are refused before anything is written
if vgrant attach "$domid" "type=rng,target=/tmp/x" 2>"$E2E_WORK/rng-bad.err"; then
    fail "vgrant attach accepted target= for an rng device"
fi
grep -q "rng" "$E2E_WORK/rng-bad.err" || fail "the refusal does not name the device type"
if vgrant attach "$domid" "type=rng,rate=0" 2>/dev/null; then
    fail "vgrant attach accepted rate=0"
fi

wait_guest rng1 300
rc=$?
guest_log rng1 | grep -E "rng|RNG" | sed 's/^/    rng1| /'
[ "$rc" = 0 ] || { bg_log vgrantd | tail -30; fail "guest job failed (rc $rc)"; }
guest_log rng1 | grep -q "^RNG-OK bytes=262144 " || fail "device 0: no RNG-OK for 256 KiB"
guest_log rng1 | grep -q "^RNG-OK bytes=4096 requests=64 " || fail "device 0: no RNG-OK for 64-byte requests"
guest_log rng1 | grep -q "^RNG-OK bytes=$slow_length " || fail "device 1: no RNG-OK"
guest_log rng1 | grep -q "^RNG-RATE " || fail "device 1: rate not checked"

# what vgrantd counted: device 0 wrote the MiB, device 1 was throttled
s0=$(vgrant stats "$domid" 0 --json) || fail "vgrant stats $domid 0"
s1=$(vgrant stats "$domid" 1 --json) || fail "vgrant stats $domid 1"
vgrant stats "$domid" | sed 's/^/    /'
num() { echo "$1" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"; }
w0=$(num "$s0" bytes_written); r0=$(num "$s0" requests)
w1=$(num "$s1" bytes_written); t1=$(num "$s1" throttled); e0=$(num "$s0" errors)
log "dev 0: $r0 requests, $w0 bytes written, $e0 errors; dev 1: $w1 bytes, throttled $t1 times"
[ -n "$w0" ] && [ "$w0" -ge $((262144 + 4096)) ] || fail "dev 0: bytes_written '$w0' < 260 KiB"
[ -n "$r0" ] && [ "$r0" -ge $((64 + 64)) ] || fail "dev 0: requests '$r0' < 128"
[ "$e0" = 0 ] || fail "dev 0: $e0 errors"
[ -n "$w1" ] && [ "$w1" -ge "$slow_length" ] || fail "dev 1: bytes_written '$w1'"
[ -n "$t1" ] && [ "$t1" -gt 0 ] || fail "dev 1: never throttled (throttled '$t1')"

check "vgrant detach 0" vgrant detach "$domid" 0
check "vgrant detach 1" vgrant detach "$domid" 1
sleep 1
bg_log vgrantd | grep -E "rng:|released:" | sed 's/^/    /'
if bg_log vgrantd | grep "released:" | grep -vq "released: 0 pages mapped, 0 ports"; then
    fail "a device left pages mapped or ports bound"
fi
stop_guest rng1
log "all checks passed"
