#!/bin/sh
# kernel-fio: fio on the raw /dev/vdX of the stock kernel's virtio_blk over
# virtio_grant.ko, one device per transport mode (grant, persistent, copy,
# auto, static with a 4 MiB region): random reads and writes of 4 KiB to
# 1 MiB, libaio, O_DIRECT, queue depth 16, crc32c verification of every
# block written (inline and at the end), 48 MiB per device.  Zero verify
# errors, fio's err=0, no BUG/Oops/WARNING on the guest console, vgrantd
# connected each device in its mode and releases everything at detach.
#
# Environment: E2E_KERNEL_MODES, E2E_KERNEL_FIO_SIZE (48M),
# E2E_KERNEL_DISK=pv (the harness on Xen's blkfront: see kernel-fs).
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl

modes=$(kernel_modes)
limit=/sys/module/xen_gntdev/parameters/limit
if [ -w "$limit" ]; then echo 1048576 >"$limit"; fi

# shellcheck disable=SC2086
kernel_disks kfio $modes
t0=$(_now)
[ "${E2E_KERNEL_DISK:-}" = pv ] || start_vgrantd vgrantd --log-level info
pvarg=""
[ "${E2E_KERNEL_DISK:-}" = pv ] && pvarg="-a pv=1"
# shellcheck disable=SC2086
start_guest -k -m 256 $pvarg -a labels="$k_labels" -a sizes="$k_sizes" \
    -a fsize="${E2E_KERNEL_FIO_SIZE:-48M}" -a keep_going=1 kfio kernel-fio ${k_xlcfg:+"$k_xlcfg"} ||
    fail "xl create of kfio failed"
domid=$(guest_domid kfio)
# shellcheck disable=SC2086
kernel_attach "$domid" kfio $modes

wait_guest kfio 1200
rc=$?
guest_log kfio | grep -v '^GUEST-KMSG \|    fio-' | sed 's/^/    kfio| /'
kernel_console_check kfio
for m in $modes; do
    line=$(guest_log kfio | grep "^GUEST-FIO $m ")
    [ -n "$line" ] || fail "mode $m: the guest reported no fio result$(guest_log kfio | sed -n 's/^GUEST-ERROR /: /p' | head -n1)"
    log "mode $m: ${line#GUEST-FIO }"
    case $line in
        *" rc=0 err=0 "*) ;;
        *) fio_report kfio "$m"
           fail "mode $m: fio failed: ${line#GUEST-FIO }" ;;
    esac
done
[ "$rc" = 0 ] || fail "guest job failed (rc $rc)$(guest_log kfio | sed -n 's/^GUEST-ERROR /: /p' | head -n1)"
log "guest done after $(($(_now) - t0)) s"

i=0
for m in $modes; do
    if [ "${E2E_KERNEL_DISK:-}" != pv ]; then
        bg_log vgrantd | grep -q "dev $i: connected: .*mode $m" ||
            fail "mode $m: vgrantd never connected dev $i in mode $m"
    fi
    i=$((i + 1))
done
# shellcheck disable=SC2086
kernel_detach "$domid" $modes
stop_guest kfio
[ "${E2E_KERNEL_DISK:-}" = pv ] && for m in $modes; do drop_disk "kfio-$m"; done
log "all checks passed"
