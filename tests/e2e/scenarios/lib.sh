# Helper library for e2e scenarios.  Source it first thing:
#
#   . "$(dirname "$0")/lib.sh"
#
# A scenario is a POSIX sh script run as root in dom0 (busybox ash inside the
# emulated machine, any sh on a real Xen host).  It passes by exiting 0; it
# fails by calling `fail REASON` (or exiting non-zero).  The runner prints
# E2E-RESULT <name> PASS|FAIL <reason>.
#
# Guests:
#   start_guest [-a KEY=VALUE]... [-k] [-m MiB] NAME JOB [XL-CFG-LINE]...
#       Write a PV domU config and `xl create` it.  The guest runs
#       /e2e/guest/JOB.sh (from the domU image); each -a KEY=VALUE reaches
#       the job as the environment variable KEY and as a positional argument
#       "KEY=VALUE" (no spaces or quotes in VALUE; KEY is [A-Za-z0-9_]).
#       -k keeps the guest running after its job (default: it powers off).
#       -m sets the memory (default $E2E_GUEST_MEMORY or 256).
#       XL-CFG-LINEs are appended to the config (e.g. 'disk = [ ... ]');
#       a line setting memory, vcpus or extra replaces the default one.
#   wait_guest NAME TIMEOUT     wait for GUEST-DONE; returns the job's rc
#                               (124: timeout, 125: guest died without it)
#   guest_log NAME              print the guest's console log
#   guest_log_path NAME
#   guest_domid NAME
#   stop_guest NAME             xl destroy (no error if already gone)
# Daemons in dom0:
#   start_bg NAME CMD [ARG]...  run CMD in the background, output to
#                               $E2E_WORK/NAME.log; killed when the scenario
#                               exits
#   stop_bg NAME                kill it now (TERM, then KILL)
#   bg_log NAME                 print its output
#   start_vgrantd NAME [OPTION]...  start_bg NAME vgrantd --foreground
#                               OPTION...; in an image built from the
#                               packages (make e2e-deb) the way
#                               vgrantd.service says, options through
#                               /etc/default/vgrantd (see the function)
# Disks for Xen's own PV block driver (blkback/blkfront, the comparison point):
#   make_disk NAME MiB          create a file on tmpfs, attach it to a loop
#                               device, print the device (/dev/loopN);
#                               use it as 'disk = [ "phy:/dev/loopN,xvda,w" ]'
#                               (the e2e dom0's /etc/xen/scripts/block is a
#                               busybox-friendly hotplug script)
#   drop_disk NAME              detach and remove it
# Driver domain:
#   start_driver_domain IMG MiB SPAN
#       xl create the PV driver domain "vgdd" (driver_domain = 1) whose job
#       (guest/vgrant-dd.sh) makes a MiB-sized image IMG in its tmpfs and
#       runs vgrantd; wait (120 s at most) until it reports ready; sets
#       dd_dom and ddhome.  Fails the scenario if vgdd does not come up.
# Xenstore:
#   wait_xs PATH VALUE TIMEOUT  wait until PATH reads VALUE (0) or time out (1)
# Checks:
#   log MSG...                  progress line
#   fail REASON...              record REASON, exit 1
#   check DESCRIPTION CMD [ARG]...   run CMD; fail DESCRIPTION if it fails
#   need_bin NAME...            fail unless each program is in PATH
#   need_guest_bin NAME...      fail unless the domU image has each project
#                               program (build-images.sh lists them in
#                               /e2e/domU/programs; no list: no check)
#
# Environment (set by the emulated dom0's init; set them yourself on a real
# Xen host):
#   E2E_GUEST_KERNEL   kernel for the domUs     (default /e2e/domU/vmlinuz)
#   E2E_GUEST_RAMDISK  domU initramfs           (default /e2e/domU/domU.img)
#   E2E_CONSOLE_LOG_DIR where xenconsoled --log=guest writes
#                      (default /var/log/xen/console)
#   E2E_WORK           scratch dir (default /run/e2e)

E2E_WORK=${E2E_WORK:-/run/e2e}
E2E_SCENARIO=${E2E_SCENARIO:-$(basename "$0" .sh)}
E2E_REASON_FILE=${E2E_REASON_FILE:-$E2E_WORK/$E2E_SCENARIO.reason}
E2E_GUEST_KERNEL=${E2E_GUEST_KERNEL:-/e2e/domU/vmlinuz}
E2E_GUEST_RAMDISK=${E2E_GUEST_RAMDISK:-/e2e/domU/domU.img}
E2E_CONSOLE_LOG_DIR=${E2E_CONSOLE_LOG_DIR:-/var/log/xen/console}
E2E_GUEST_MEMORY=${E2E_GUEST_MEMORY:-256}
mkdir -p "$E2E_WORK"
# on a Debian Xen host the tools like test-resource live here
for _d in /usr/lib/xen-*/bin; do
    case ":$PATH:" in *":$_d:"*) ;; *) [ -d "$_d" ] && PATH=$PATH:$_d ;; esac
done
export PATH

log() { echo "[$E2E_SCENARIO] $*"; }

fail() {
    log "FAIL: $*"
    # first failure wins: it is the cause, later ones are consequences
    [ -s "$E2E_REASON_FILE" ] || echo "$*" >"$E2E_REASON_FILE"
    exit 1
}

check() {
    _desc=$1
    shift
    if "$@"; then
        log "ok: $_desc"
    else
        fail "$_desc (rc $?)"
    fi
}

need_bin() {
    for _b in "$@"; do
        command -v "$_b" >/dev/null 2>&1 || fail "program $_b not found in PATH ($PATH)"
    done
}

# need_patched_xl: this dom0's xl has virtio-grant devices (xen-patches/,
# put in by make e2e-xl through VGRANT_E2E_XL_DIR)
need_patched_xl() {
    xl help 2>/dev/null | grep -q virtio-grant-attach ||
        fail "this xl knows no virtio-grant devices: run the scenario with the patched xl (make e2e-xl, VGRANT_E2E_XL_DIR)"
}

need_guest_bin() {
    _gl=${E2E_DOMU_PROGRAMS:-/e2e/domU/programs}
    [ -f "$_gl" ] || return 0
    for _b in "$@"; do
        grep -qx "$_b" "$_gl" || fail "the guest image has no $_b (it has: $(tr '\n' ' ' <"$_gl"); DOMU_PROGRAMS in tests/e2e/build-images.sh)"
    done
}

_now() { date +%s; }

# ------------------------------------------------------------ guests -----
guest_log_path() { echo "$E2E_CONSOLE_LOG_DIR/guest-$1.log"; }
guest_log() { tr -d '\r' <"$(guest_log_path "$1")" 2>/dev/null; }
guest_domid() { xl domid "$1" 2>/dev/null; }
# guest_wait_line NAME PATTERN SECONDS: wait until the guest's console has
# a line matching PATTERN (grep); 1, with the console's last lines shown,
# if the guest printed GUEST-ERROR or GUEST-DONE first, is gone, or the
# time is up
guest_wait_line() {
    _gw=0
    until guest_log "$1" | grep -q "$2"; do
        _gw=$((_gw + 1))
        if [ "$_gw" -gt $(($3 * 2)) ] || ! xl domid "$1" >/dev/null 2>&1 ||
           guest_log "$1" | grep -q '^GUEST-ERROR\|^GUEST-DONE'; then
            # the line may have come with the one that ended the wait
            guest_log "$1" | grep -q "$2" && return 0
            guest_log "$1" | grep -v '^GUEST-KMSG' | tail -n 20 | sed "s/^/    $1| /"
            return 1
        fi
        sleep 0.5
    done
}
stop_guest() { xl destroy "$1" >/dev/null 2>&1 || true; }

start_guest() {
    _args="" _keep=0 _mem=$E2E_GUEST_MEMORY
    while [ $# -gt 0 ]; do
        case $1 in
            -a)
                case $2 in
                    *[!A-Za-z0-9_=./:,+@-]*|=*|"") fail "start_guest: bad guest argument '$2' (KEY=VALUE, no spaces or quotes)" ;;
                    *=*) ;;
                    *) fail "start_guest: guest argument '$2' is not KEY=VALUE" ;;
                esac
                _args="$_args vgarg_$2"
                shift 2
                ;;
            -k) _keep=1; shift ;;
            -m) _mem=$2; shift 2 ;;
            --) shift; break ;;
            -*) fail "start_guest: unknown option $1" ;;
            *) break ;;
        esac
    done
    [ $# -ge 2 ] || fail "usage: start_guest [-a KEY=VALUE]... [-k] [-m MiB] NAME JOB [XL-CFG-LINE]..."
    _name=$1 _job=$2
    shift 2
    [ -f "$E2E_GUEST_KERNEL" ] || fail "guest kernel $E2E_GUEST_KERNEL not found (set E2E_GUEST_KERNEL)"
    [ -f "$E2E_GUEST_RAMDISK" ] || fail "guest ramdisk $E2E_GUEST_RAMDISK not found (set E2E_GUEST_RAMDISK)"

    _cfg=$E2E_WORK/guest-$_name.cfg
    _set_mem=1 _set_vcpus=1 _set_extra=1
    for _l in "$@"; do
        case $(echo "$_l" | sed 's/^[[:space:]]*//') in
            memory*=*) _set_mem=0 ;;
            vcpus*=*) _set_vcpus=0 ;;
            extra*=*) _set_extra=0 ;;
        esac
    done
    _extra="console=hvc0 quiet vgname=$_name vgjob=$_job$_args"
    [ "$_keep" = 1 ] && _extra="$_extra vgkeep=1"
    {
        echo "name = \"$_name\""
        echo 'type = "pv"'
        echo "kernel = \"$E2E_GUEST_KERNEL\""
        echo "ramdisk = \"$E2E_GUEST_RAMDISK\""
        [ "$_set_extra" = 1 ] && echo "extra = \"$_extra\""
        [ "$_set_mem" = 1 ] && echo "memory = $_mem"
        [ "$_set_vcpus" = 1 ] && echo "vcpus = 1"
        for _l in "$@"; do echo "$_l"; done
    } >"$_cfg"

    # a stale log from an earlier guest of the same name would fool wait_guest
    rm -f "$(guest_log_path "$_name")"
    echo "$_name" >>"$E2E_WORK/guests"
    log "starting guest $_name (job $_job${_args:+,$_args})"
    if ! xl create "$_cfg" >"$E2E_WORK/xl-create-$_name.log" 2>&1; then
        sed 's/^/    xl: /' "$E2E_WORK/xl-create-$_name.log"
        log "config was:"
        sed 's/^/    cfg: /' "$_cfg"
        return 1
    fi
    log "guest $_name is domain $(guest_domid "$_name")"
    return 0
}

# wait_guest NAME TIMEOUT -> returns the guest job's exit status
wait_guest() {
    _name=$1 _tmo=${2:-120}
    _log=$(guest_log_path "$_name")
    _end=$(($(_now) + _tmo))
    _gone=0 _t0=$(_now) _hinted=0
    while :; do
        if [ -f "$_log" ]; then
            _rc=$(tr -d '\r' <"$_log" | sed -n 's/.*GUEST-DONE rc=\([0-9]*\).*/\1/p' | tail -n1)
            if [ -n "$_rc" ]; then
                log "guest $_name finished its job: rc=$_rc"
                return "$_rc"
            fi
        fi
        if [ ! -f "$_log" ] && [ "$_hinted" = 0 ] && [ $(($(_now) - _t0)) -ge 15 ]; then
            _hinted=1
            log "no console log $_log yet: is xenconsoled logging guests (--log=guest --log-dir=$E2E_CONSOLE_LOG_DIR; XENCONSOLED_TRACE=guest in /etc/default/xencommons)?"
        fi
        if ! xl domid "$_name" >/dev/null 2>&1; then
            _gone=$((_gone + 1))
            if [ "$_gone" -ge 3 ]; then
                log "guest $_name is gone without printing GUEST-DONE (log: $_log)"
                return 125
            fi
        fi
        if [ "$(_now)" -ge "$_end" ]; then
            log "guest $_name: no GUEST-DONE within ${_tmo}s (log: $_log)"
            return 124
        fi
        sleep 1
    done
}

# ------------------------------------------------------------ disks ------
make_disk() {
    _f=$E2E_WORK/disk-$1.img
    dd if=/dev/zero of="$_f" bs=1M count=0 seek="$2" 2>/dev/null || fail "cannot create $_f"
    _dev=$(losetup -f) || fail "no free loop device (is the loop module loaded?)"
    losetup "$_dev" "$_f" || fail "losetup $_dev $_f failed"
    echo "$_dev" >"$E2E_WORK/disk-$1.dev"
    echo "$_dev"
}

drop_disk() {
    [ -f "$E2E_WORK/disk-$1.dev" ] && losetup -d "$(cat "$E2E_WORK/disk-$1.dev")" 2>/dev/null
    rm -f "$E2E_WORK/disk-$1.dev" "$E2E_WORK/disk-$1.img"
}

# ---------------------------------------------------------- xenstore -----
wait_xs() {
    _end=$(($(_now) + ${3:-30}))
    while :; do
        [ "$(xenstore-read "$1" 2>/dev/null)" = "$2" ] && return 0
        [ "$(_now)" -ge "$_end" ] && return 1
        sleep 0.2
    done
}

# --------------------------------------------------------- daemons -------
_E2E_BG=""
start_bg() {
    _bn=$1
    shift
    "$@" >"$E2E_WORK/$_bn.log" 2>&1 &
    echo $! >"$E2E_WORK/$_bn.pid"
    _E2E_BG="$_E2E_BG $_bn"
    log "started $_bn (pid $!): $*"
}

stop_bg() {
    [ -f "$E2E_WORK/$1.pid" ] || return 0
    _pid=$(cat "$E2E_WORK/$1.pid")
    rm -f "$E2E_WORK/$1.pid"
    kill "$_pid" 2>/dev/null || return 0
    _i=0
    while kill -0 "$_pid" 2>/dev/null && [ "$_i" -lt 20 ]; do
        sleep 0.25
        _i=$((_i + 1))
    done
    kill -9 "$_pid" 2>/dev/null || true
}

bg_log() { cat "$E2E_WORK/$1.log" 2>/dev/null; }

# start_vgrantd NAME [OPTION]...: start vgrantd in the background as NAME
# (start_bg: log $E2E_WORK/NAME.log, pid $E2E_WORK/NAME.pid).
# From the packages (E2E_PACKAGED=1: the image was built from the .debs,
# make e2e-deb) it starts the way vgrantd.service says, as systemd would
# on a Debian Xen host: the OPTIONs become VGRANTD_OPTS="..." in
# /etc/default/vgrantd (what the administrator edits), the command line is
# the unit's ExecStart with that file's variables substituted
# (scenarios/unit.lib), its RuntimeDirectory is made with its mode and
# its UMask applied.  The unit's sandboxing (ProtectSystem, DeviceAllow,
# ...), Restart= and the journal are systemd's and not reproduced here.
# Otherwise: `vgrantd --foreground OPTION...` from PATH.
VGRANTD_UNIT=${VGRANTD_UNIT:-/lib/systemd/system/vgrantd.service}
start_vgrantd() {
    _sv_name=$1
    shift
    if [ "${E2E_PACKAGED:-0}" != 1 ]; then
        start_bg "$_sv_name" vgrantd --foreground "$@"
        return
    fi
    . "$(dirname "$0")/unit.lib"
    [ -f "$VGRANTD_UNIT" ] || fail "packaged image without $VGRANTD_UNIT"
    _sv_env=/etc/default/vgrantd
    case "$*" in *'"'*) fail "start_vgrantd: a quote in the options: $*" ;; esac
    sed -i "s|^VGRANTD_OPTS=.*|VGRANTD_OPTS=\"$*\"|" "$_sv_env" ||
        fail "cannot set VGRANTD_OPTS in $_sv_env"
    grep -qx "VGRANTD_OPTS=\"$*\"" "$_sv_env" || fail "$_sv_env has no VGRANTD_OPTS= line to set"
    _sv_args=$(unit_exec_args "$VGRANTD_UNIT") || fail "cannot map $VGRANTD_UNIT's ExecStart"
    _sv_rd=$(unit_value "$VGRANTD_UNIT" RuntimeDirectory)
    _sv_mode=$(unit_value "$VGRANTD_UNIT" RuntimeDirectoryMode)
    _sv_umask=$(unit_value "$VGRANTD_UNIT" UMask)
    if [ -n "$_sv_rd" ]; then
        mkdir -p "/run/$_sv_rd" && chmod "${_sv_mode:-0755}" "/run/$_sv_rd" ||
            fail "cannot make RuntimeDirectory /run/$_sv_rd"
    fi
    set --
    while IFS= read -r _sv_w; do set -- "$@" "$_sv_w"; done <<EOF
$_sv_args
EOF
    log "as $VGRANTD_UNIT with $_sv_env: $*"
    _sv_old=$(umask)
    [ -z "$_sv_umask" ] || umask "$_sv_umask"
    start_bg "$_sv_name" "$@"
    umask "$_sv_old"
}

# scratch PATH...: remove these files when the scenario ends (the kernel
# scenarios' images fill dom0's /run tmpfs otherwise: one boot runs many)
_E2E_SCRATCH=""
scratch() { _E2E_SCRATCH="$_E2E_SCRATCH $*"; }

_e2e_cleanup() {
    for _bn in $_E2E_BG; do stop_bg "$_bn"; done
    # shellcheck disable=SC2086
    [ -n "$_E2E_SCRATCH" ] && rm -rf $_E2E_SCRATCH
}
trap _e2e_cleanup EXIT

start_driver_domain() {
    start_guest -m 256 -a img="$1" -a size="$2" -a span="$3" -a wait_s=400 \
        vgdd vgrant-dd 'driver_domain = 1' || fail "xl create of the driver domain failed"
    dd_dom=$(guest_domid vgdd)
    [ -n "$dd_dom" ] || fail "no domain id for vgdd"
    ddhome=/local/domain/$dd_dom
    # ready, or its job over (it failed), or 120 s
    _i=0
    until [ "$(xenstore-read "$ddhome/data/vgdd-ready" 2>/dev/null)" = 1 ]; do
        _i=$((_i + 1))
        if guest_log vgdd | grep -q '^GUEST-DONE' || [ "$_i" -gt 240 ]; then
            guest_log vgdd | sed 's/^/    vgdd| /'
            fail "vgrantd in the driver domain did not come up$(guest_log vgdd | sed -n 's/^DD-ERROR/:/p' | head -n1)"
        fi
        sleep 0.5
    done
}

# --------------------------------------------------- kernel scenarios ----
# The kernel-* scenarios run the guest kernel's own virtio drivers over
# virtio_grant.ko (guest/kernel-lib.sh).
#
#   kernel_console_check NAME...
#       fail if a guest's console log holds a kernel BUG, Oops, WARNING,
#       panic, call trace, hung-task or lockup report (the guest jobs put
#       warnings on the console and dump dmesg at the end)
#   image_check LABEL IMG SUMS
#       dom0's own look at an image a guest formatted: e2fsck -fn of the
#       file, then a read-only loop mount with every "sha256  path" line of
#       the file SUMS checked (sha256sum -c)
#   released_ok DOMID DEVID SECONDS
#       wait for vgrantd's "dom D dev N: released:" line; fail unless it
#       reports 0 pages mapped and 0 ports bound
#   guest_sums NAME LABEL FILE
#       the GUEST-SUM lines of LABEL from NAME's console, into FILE
# Only kernel lines count (the Debian kernel stamps each with [ seconds ]):
# user space may say WARNING too (busybox sha256sum -c does).
KERNEL_BAD_RE='BUG:|kernel BUG|Oops|WARNING:|cut here|general protection fault|Kernel panic|Call Trace:|INFO: task .* blocked for more than|soft lockup|hard LOCKUP|self-detected stall|rcu: INFO'
KERNEL_LINE_RE='\[ *[0-9]+\.[0-9]+\] '

# fio_report GUEST LABEL: what fio (guest/kernel-fio.sh) printed for LABEL
# when it failed -- its error lines first (a verify failure names the
# offset, length and what was expected and received), then its summary.
fio_report() {
    guest_log "$1" | grep "    fio-$2|" |
        grep -i 'verify\|crc\|bad \|error\|expected\|received\|offset\|hdr\|err=' | head -n 20
    echo "    ..."
    guest_log "$1" | grep "    fio-$2|" | tail -n 30
}

kernel_console_check() {
    for _g in "$@"; do
        _bad=$(guest_log "$_g" | grep -E "$KERNEL_LINE_RE" | grep -E "$KERNEL_BAD_RE" | head -n 5)
        if [ -n "$_bad" ]; then
            guest_log "$_g" | grep -E "$KERNEL_LINE_RE" | grep -E -B 2 -A 25 "$KERNEL_BAD_RE" | head -n 80 | sed "s/^/    $_g! /"
            fail "guest $_g's kernel reported: $(echo "$_bad" | head -n1 | sed 's/^GUEST-KMSG //' | cut -c1-120)"
        fi
        log "ok: no BUG/Oops/WARNING in $_g's console"
    done
}

guest_sums() {
    guest_log "$1" | sed -n "s/^GUEST-SUM $2 //p" >"$3"
}

image_check() {
    _label=$1 _img=$2 _sums=$3
    [ -s "$_sums" ] || fail "$_label: no checksums from the guest"
    # busybox mount cannot load a filesystem module by itself
    grep -qw ext4 /proc/filesystems || { modprobe crc32c_generic 2>/dev/null; modprobe ext4; } ||
        fail "dom0 has no ext4 (modprobe ext4 failed)"
    e2fsck -fn "$_img" >"$E2E_WORK/e2fsck-$_label.log" 2>&1 ||
        { sed 's/^/    e2fsck| /' "$E2E_WORK/e2fsck-$_label.log"; fail "$_label: dom0's e2fsck -fn of $_img is not clean"; }
    _mnt=$E2E_WORK/mnt-$_label
    mkdir -p "$_mnt"
    _loop=$(losetup -f) || fail "no free loop device"
    losetup -r "$_loop" "$_img" || fail "losetup -r $_loop $_img failed"
    if ! mount -t ext4 -o ro "$_loop" "$_mnt"; then
        losetup -d "$_loop"
        fail "$_label: dom0 cannot mount $_img"
    fi
    (cd "$_mnt" && sha256sum -c "$_sums" >"$E2E_WORK/sums-$_label.check" 2>&1)
    _rc=$?
    umount "$_mnt"
    losetup -d "$_loop"
    if [ "$_rc" != 0 ]; then
        grep -v ': OK$' "$E2E_WORK/sums-$_label.check" | head -n 20 | sed 's/^/    dom0 check| /'
        fail "$_label: $(grep -vc ': OK$' "$E2E_WORK/sums-$_label.check") file(s) in $_img differ from what the guest wrote"
    fi
    log "ok: $_label: dom0 e2fsck clean, $(wc -l <"$_sums") files in $_img match the guest's checksums"
}

released_ok() {
    _i=0
    until bg_log vgrantd | grep -q "dom $1 dev $2: released"; do
        _i=$((_i + 1))
        [ "$_i" -gt $(($3 * 2)) ] && { bg_log vgrantd | tail -n 20; fail "vgrantd did not release dom $1 dev $2 within $3 s"; }
        sleep 0.5
    done
    _rel=$(bg_log vgrantd | grep "dom $1 dev $2: released" | tail -n 1)
    echo "$_rel" | grep -q "released: 0 pages mapped, 0 ports bound" ||
        fail "dom $1 dev $2: mappings or ports left: $_rel"
    log "ok: vgrantd: ${_rel#*: }"
}

# One disk per transport mode, told apart in the guest by its size
# (64 MiB for the first mode, 65 for the second, ...):
#   kernel_disks PREFIX MODE...     create $E2E_WORK/PREFIX-MODE.img files;
#                                   set k_labels and k_sizes (the guest
#                                   job's labels= and sizes=); with
#                                   E2E_KERNEL_DISK=pv make loop disks for
#                                   blkback instead and set k_xlcfg
#   kernel_attach DOMID PREFIX MODE...  vgrant attach devid 0, 1, ... in
#                                   those modes (static: region=4M)
#   kernel_detach DOMID MODE...     vgrant detach each, then released_ok
#   kernel_image PREFIX MODE        the image file of that disk
kernel_disks() {
    _p=$1
    shift
    k_labels="" k_sizes="" k_xlcfg="" _i=0 _d=""
    for _m in "$@"; do
        k_labels="$k_labels${k_labels:+,}$_m"
        k_sizes="$k_sizes${k_sizes:+,}$((64 + _i))"
        if [ "${E2E_KERNEL_DISK:-}" = pv ]; then
            _dev=$(make_disk "$_p-$_m" $((64 + _i)))
            _d="$_d${_d:+, }\"phy:$_dev,xvd$(echo abcdefghij | cut -c$((_i + 1))),w\""
        else
            dd if=/dev/zero of="$E2E_WORK/$_p-$_m.img" bs=1M count=0 seek=$((64 + _i)) 2>/dev/null ||
                fail "cannot create $E2E_WORK/$_p-$_m.img"
            scratch "$E2E_WORK/$_p-$_m.img"
        fi
        _i=$((_i + 1))
    done
    [ -n "$_d" ] && k_xlcfg="disk = [ $_d ]"
    return 0
}

kernel_image() {
    if [ "${E2E_KERNEL_DISK:-}" = pv ]; then echo "$E2E_WORK/disk-$1-$2.img"; else echo "$E2E_WORK/$1-$2.img"; fi
}

kernel_attach() {
    _dom=$1 _p=$2
    shift 2
    [ "${E2E_KERNEL_DISK:-}" = pv ] && return 0
    _i=0
    for _m in "$@"; do
        _x=""
        [ "$_m" = static ] && _x=",region=4M"
        check "vgrant attach dev $_i mode=$_m ($((64 + _i)) MiB)" \
            vgrant attach "$_dom" "type=blk,target=$E2E_WORK/$_p-$_m.img,devid=$_i,mode=$_m$_x"
        _i=$((_i + 1))
    done
}

kernel_detach() {
    _dom=$1
    shift
    [ "${E2E_KERNEL_DISK:-}" = pv ] && return 0
    _i=0
    for _m in "$@"; do
        check "vgrant detach $_i ($_m)" vgrant detach "$_dom" "$_i"
        _i=$((_i + 1))
    done
    _i=0
    for _m in "$@"; do
        released_ok "$_dom" "$_i" 30
        _i=$((_i + 1))
    done
}

# the modes of a kernel scenario: E2E_KERNEL_MODES (',' or '+' separated:
# the dom0 command line takes no commas) or every mode
kernel_modes() {
    echo "${E2E_KERNEL_MODES:-grant persistent copy auto static}" | tr ',+' '  '
}
