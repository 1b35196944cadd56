#!/bin/sh
# kernel-unplug: the backend goes away under the stock kernel's virtio_blk
# over virtio_grant.ko (grant mode), three ways, while a second guest's
# device keeps verifying:
#   1. `vgrant detach` of a disk that is mounted and idle (guest ku-idle):
#      vgrantd releases everything; the guest's write, read and umount
#      afterwards all return (errors are fine), its job ends;
#   2. `xl destroy` of a guest while fio runs on its disk (ku-victim):
#      vgrantd releases everything;
#   3. vgrantd SIGTERM while fio runs (ku-term): vgrantd releases
#      everything as it stops; a new vgrantd is started; the guest's fio
#      ends (failed I/O or finished after a reconnect) and its job ends.
# Meanwhile ku-surv runs fio with crc32c verification on its own disk
# through 1 and 2: zero verify errors.  No guest console may show a kernel
# BUG/Oops/WARNING or hung task.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl

for n in idle surv victim term; do
    dd if=/dev/zero of="$E2E_WORK/ku-$n.img" bs=1M count=0 seek=64 2>/dev/null || fail "cannot create ku-$n.img"
    scratch "$E2E_WORK/ku-$n.img"
done
wait_line() { guest_wait_line "$@" || fail "$1: no '$2' within $3 s"; }

start_vgrantd vgrantd --log-level info
start_guest -k -m 192 -a labels=surv -a sizes=64 -a fsize=32M -a runtime=150 ku-surv kernel-fio ||
    fail "xl create ku-surv"
sdom=$(guest_domid ku-surv)
check "attach ku-surv" vgrant attach "$sdom" "type=blk,target=$E2E_WORK/ku-surv.img"
start_guest -k -m 160 -a size=64 ku-idle kernel-idle || fail "xl create ku-idle"
idom=$(guest_domid ku-idle)
check "attach ku-idle" vgrant attach "$idom" "type=blk,target=$E2E_WORK/ku-idle.img"

# 1. detach while mounted and idle
wait_line ku-idle '^GUEST-MOUNTED' 180
wait_line ku-surv '^GUEST-FIO-START' 60
sleep 2
log "1. vgrant detach of ku-idle's mounted, idle disk"
check "vgrant detach ku-idle" vgrant detach "$idom" 0
released_ok "$idom" 0 30
wait_guest ku-idle 120
rc=$?
guest_log ku-idle | grep '^GUEST-UNPLUG\|^GUEST-ERROR' | sed 's/^/    ku-idle| /'
[ "$rc" = 0 ] || fail "ku-idle's job did not end cleanly after the detach (rc $rc: 124 = hang)"
kernel_console_check ku-idle
stop_guest ku-idle

# 2. xl destroy while fio runs
start_guest -k -m 160 -a labels=victim -a sizes=64 -a fsize=48M -a loops=100 ku-victim kernel-fio ||
    fail "xl create ku-victim"
vdom=$(guest_domid ku-victim)
check "attach ku-victim" vgrant attach "$vdom" "type=blk,target=$E2E_WORK/ku-victim.img"
wait_line ku-victim '^GUEST-FIO-START' 120
sleep 5
log "2. xl destroy of ku-victim while fio runs"
check "xl destroy ku-victim" xl destroy ku-victim
released_ok "$vdom" 0 30
kernel_console_check ku-victim
check "vgrant detach of the destroyed guest's device" vgrant detach "$vdom" 0

# the survivor verified all along
wait_guest ku-surv 400
rc=$?
line=$(guest_log ku-surv | grep '^GUEST-FIO surv ')
log "ku-surv: ${line#GUEST-FIO }"
kernel_console_check ku-surv
case $line in
    *" rc=0 err=0 "*) ;;
    *) fio_report ku-surv surv; fail "ku-surv's fio failed: ${line:-no result}" ;;
esac
[ "$rc" = 0 ] || fail "ku-surv's job failed (rc $rc)"
check "detach ku-surv" vgrant detach "$sdom" 0
released_ok "$sdom" 0 30
stop_guest ku-surv

# 3. vgrantd SIGTERM while fio runs
start_guest -k -m 160 -a labels=term -a sizes=64 -a fsize=48M -a runtime=120 ku-term kernel-fio ||
    fail "xl create ku-term"
tdom=$(guest_domid ku-term)
check "attach ku-term" vgrant attach "$tdom" "type=blk,target=$E2E_WORK/ku-term.img"
wait_line ku-term '^GUEST-FIO-START' 120
sleep 5
log "3. SIGTERM to vgrantd while ku-term's fio runs"
stop_bg vgrantd
rel=$(bg_log vgrantd | grep "dom $tdom dev 0: released" | tail -n 1)
log "vgrantd: ${rel:-no release line}"
echo "$rel" | grep -q "released: 0 pages mapped, 0 ports bound" ||
    { bg_log vgrantd | tail -n 10; fail "the stopping vgrantd did not release everything of dom $tdom"; }
sleep 3
start_vgrantd vgrantd2 --log-level info
t0=$(_now)
wait_guest ku-term 300
rc=$?
line=$(guest_log ku-term | grep '^GUEST-FIO term ')
log "ku-term after $(($(_now) - t0)) s: ${line#GUEST-FIO } (job rc $rc)"
[ "$rc" = 124 ] && fail "ku-term's fio never ended after the vgrantd stop and restart (hang)"
[ -n "$line" ] || fail "ku-term printed no fio result (rc $rc)"
kernel_console_check ku-term
if bg_log vgrantd2 | grep -q "dom $tdom dev 0: connected"; then
    log "ku-term's device reconnected to the new vgrantd"
else
    log "ku-term's device did not reconnect (its I/O failed; the device was removed)"
fi
vgrant detach "$tdom" 0 >/dev/null 2>&1
stop_guest ku-term
log "all checks passed"
