#!/usr/bin/env bash
# Boot real Xen under QEMU (TCG) and run e2e scenarios in its dom0.
#
#   tests/e2e/run.sh [options] [SCENARIO...]
#
# SCENARIO is the name of tests/e2e/scenarios/NAME.sh (default: all of them,
# lib.sh excepted).  All scenarios of one call run in one boot, in order.
#
# Options:
#   -t SECONDS   hard timeout of the whole QEMU run   (VGRANT_E2E_TIMEOUT, 600)
#   -s SECONDS   timeout of each scenario inside dom0 (VGRANT_E2E_SCENARIO_TIMEOUT,
#                default: the QEMU timeout minus 60 s)
#   -b DIR       project binaries to put in the images
#                (VGRANT_E2E_BINDIR, default <repo>/build/bin)
#   -v           stream the serial console while it runs (VGRANT_E2E_VERBOSE=1)
#   -i           interactive: serial console on this terminal (Ctrl-a x quits
#                QEMU), and a dom0 shell after the scenarios (exit it to
#                power off); the log is still written
#   -l DIR       directory for the serial logs (VGRANT_E2E_LOGDIR,
#                default <cache>/logs)
#   -h           this help
# More environment:
#   VGRANT_E2E_CACHE       cache directory (~/.cache/virtio-grant/e2e)
#   VGRANT_E2E_MEM         QEMU memory in MiB (2048)
#   VGRANT_E2E_DOM0_MEM    dom0_mem in MiB (1024)
#   VGRANT_E2E_QEMU        QEMU binary (qemu-system-x86_64)
#   VGRANT_E2E_ACCEL       QEMU accelerator (tcg,thread=multi); kvm is NOT
#                          known to work with Xen nested in it
#   VGRANT_E2E_XEN_ARGS    extra Xen command line words
#   VGRANT_E2E_DOM0_ARGS   extra dom0 kernel command line words, e.g.
#                          vgenv_KEY=VALUE to export KEY to the scenarios
#   VGRANT_E2E_OFFLINE=1   do not talk to apt (reuse the fetched packages)
#   VGRANT_E2E_DOM0_BINDIR dom0's programs (vgrantd, vgrant, vg-dm) from
#                          here instead of the -b directory
#   VGRANT_E2E_SAN=1       dom0's programs are a sanitizer build: a scenario
#                          during which one wrote a report FAILs (runner.sh);
#                          make e2e SAN=1 sets both
#
# Prints one "PASS <name>" / "FAIL <name>: <reason>" line per scenario and
# a closing "N passed, N failed" line; exits non-zero if any scenario failed
# or has no result, or QEMU failed, hung or timed out.
set -euo pipefail
. "$(dirname "$0")/common.sh"
E2E_WHERE=run.sh

TIMEOUT=${VGRANT_E2E_TIMEOUT:-600}
STIMEOUT=${VGRANT_E2E_SCENARIO_TIMEOUT:-}
BINDIR=${VGRANT_E2E_BINDIR:-$E2E_REPO/build/bin}
VERBOSE=${VGRANT_E2E_VERBOSE:-0}
LOGDIR=${VGRANT_E2E_LOGDIR:-$E2E_CACHE/logs}
QEMU=${VGRANT_E2E_QEMU:-qemu-system-x86_64}
MEM=${VGRANT_E2E_MEM:-2048}
DOM0_MEM=${VGRANT_E2E_DOM0_MEM:-1024}
ACCEL=${VGRANT_E2E_ACCEL:-tcg,thread=multi}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
INTERACTIVE=0
while getopts "t:s:b:l:vih" o; do
    case $o in
        t) TIMEOUT=$OPTARG ;;
        s) STIMEOUT=$OPTARG ;;
        b) BINDIR=$OPTARG ;;
        l) LOGDIR=$OPTARG ;;
        v) VERBOSE=1 ;;
        i) INTERACTIVE=1 ;;
        h) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

case $TIMEOUT in ''|*[!0-9]*) die "timeout '$TIMEOUT' is not a number of seconds" ;; esac
[ -n "$STIMEOUT" ] || STIMEOUT=$((TIMEOUT > 120 ? TIMEOUT - 60 : TIMEOUT))

# ------------------------------------------------------- scenarios --------
SCEN=("$@")
if [ "${#SCEN[@]}" -eq 0 ]; then
    for f in "$E2E_DIR"/scenarios/*.sh; do
        n=${f##*/}; n=${n%.sh}
        [ "$n" = lib ] || SCEN+=("$n")
    done
fi
[ "${#SCEN[@]}" -gt 0 ] || die "no scenario to run"
for s in "${SCEN[@]}"; do
    case $s in *[!A-Za-z0-9_-]*|lib) die "bad scenario name '$s' (letters, digits, _ and - only)" ;; esac
    [ -f "$E2E_DIR/scenarios/$s.sh" ] || die "no such scenario: $E2E_DIR/scenarios/$s.sh"
done

# ------------------------------------------------------------ QEMU --------
command -v "$QEMU" >/dev/null 2>&1 || "$E2E_DIR/fetch.sh" >/dev/null   # installs qemu if it can
command -v "$QEMU" >/dev/null 2>&1 || die "$QEMU not found: the e2e tests cannot run (apt-get install qemu-system-x86)"
qver=$("$QEMU" --version 2>&1) || die "$QEMU cannot run at all: $qver"
accels=$("$QEMU" -accel help 2>&1) || die "$QEMU -accel help failed: $accels"
grep -qw "${ACCEL%%,*}" <<<"$accels" || die "$QEMU has no '${ACCEL%%,*}' accelerator (it offers: $(tr '\n' ' ' <<<"$accels"))"
need_cmd timeout
# the default emulator, declared for tests/scripts/test_deps_cover.sh
[ "$QEMU" != qemu-system-x86_64 ] || need_cmd qemu-system-x86_64

# ------------------------------------------------------------ images ------
t_start=$SECONDS
paths=$("$E2E_DIR/build-images.sh" "$BINDIR" | tail -n1) || die "building the images failed"
# shellcheck disable=SC1090
. "$paths"
for f in "$E2E_XEN" "$E2E_KERNEL" "$E2E_DOM0_IMG"; do
    [ -f "$f" ] || die "image file $f missing (remove $E2E_CACHE/images and retry)"
done
t_images=$((SECONDS - t_start))

mkdir -p "$LOGDIR"
stamp=$(date +%Y%m%d-%H%M%S)
names=$(IFS=+; echo "${SCEN[*]}")
[ "${#names}" -gt 60 ] && names="${names:0:60}..."
LOG=$LOGDIR/$stamp-$$-$names.log
ERRLOG=$LOGDIR/$stamp-$$-$names.qemu-stderr
ln -sfn "$LOG" "$LOGDIR/latest.log"
prune_dir "$LOGDIR" 80 "${LOG##*/}"

scen_arg=$(IFS=:; echo "${SCEN[*]}")
XEN_CMD="dom0_mem=${DOM0_MEM}M,max:${DOM0_MEM}M dom0_max_vcpus=2 console=com1 com1=115200,8n1 loglvl=warning guest_loglvl=warning ${VGRANT_E2E_XEN_ARGS:-}"
DOM0_CMD="console=hvc0 quiet loglevel=3 panic=5 vgscen=$scen_arg vgtimeout=$STIMEOUT ${VGRANT_E2E_DOM0_ARGS:-}"
if [ "${VGRANT_E2E_SAN:-0}" = 1 ]; then
    DOM0_CMD="$DOM0_CMD vgenv_E2E_SAN=1"
    log "sanitizer run: dom0's programs from ${VGRANT_E2E_DOM0_BINDIR:-$BINDIR}, the guests' from $BINDIR"
fi
[ "$INTERACTIVE" = 1 ] && DOM0_CMD="$DOM0_CMD vgshell=1"
# QEMU splits -initrd at commas (",," is a literal comma)
case "$E2E_KERNEL$E2E_DOM0_IMG$DOM0_CMD" in *,*) die "a comma in the dom0 kernel path, image path or command line would break QEMU's -initrd" ;; esac

# shellcheck disable=SC2054  # commas inside QEMU option values
QEMU_ARGS=(
    -accel "$ACCEL" -cpu qemu64,+svm -m "$MEM" -smp 2
    -nodefaults -no-reboot -display none
    -kernel "$E2E_XEN" -append "$XEN_CMD"
    -initrd "$E2E_KERNEL $DOM0_CMD,$E2E_DOM0_IMG"
)

if [ "$INTERACTIVE" = 1 ]; then
    [ -t 0 ] || die "-i needs a terminal on standard input"
    QEMU_ARGS+=(-chardev "stdio,id=con,mux=on,signal=off,logfile=$LOG" -serial chardev:con -mon chardev=con)
else
    QEMU_ARGS+=(-monitor none -serial "file:$LOG")
fi

log "scenarios: ${SCEN[*]}"
log "serial log: $LOG"
log "booting Xen under QEMU (timeout ${TIMEOUT}s, per scenario ${STIMEOUT}s)"
printf '%q ' "$QEMU" "${QEMU_ARGS[@]}" >"$LOG.cmd"; echo >>"$LOG.cmd"

: >"$LOG"
tail_pid=""
if [ "$VERBOSE" = 1 ]; then
    tail -n +1 -f "$LOG" >&2 &
    tail_pid=$!
fi
t_boot=$SECONDS
qrc=0
if [ "$INTERACTIVE" = 1 ]; then
    "$QEMU" "${QEMU_ARGS[@]}" 2>"$ERRLOG" || qrc=$?
    stty sane 2>/dev/null || true
else
    timeout -k 10 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" </dev/null >"$ERRLOG" 2>&1 || qrc=$?
fi
t_run=$((SECONDS - t_boot))
if [ -n "$tail_pid" ]; then sleep 0.5; kill "$tail_pid" 2>/dev/null || true; wait "$tail_pid" 2>/dev/null || true; fi

# ------------------------------------------------------------ verdict -----
clean=$(tr -d '\r' <"$LOG")
problem=""
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    problem="QEMU timed out after ${TIMEOUT}s (hang?)"
elif [ "$qrc" != 0 ]; then
    problem="QEMU exited with status $qrc: $(tr '\n' ' ' <"$ERRLOG" | cut -c1-400)"
fi
if ! grep -q 'Xen version' <<<"$clean"; then
    problem="${problem:+$problem; }Xen never printed its banner: QEMU could not boot it (stderr: $(tr '\n' ' ' <"$ERRLOG" | cut -c1-400))"
elif ! grep -q 'E2E-DOM0:' <<<"$clean"; then
    problem="${problem:+$problem; }dom0's init never ran (kernel or initramfs problem, see the log)"
elif ! grep -q '^E2E-DONE' <<<"$clean"; then
    problem="${problem:+$problem; }dom0's init did not finish"
fi
for pat in 'Panic on CPU' 'Kernel panic' 'FATAL TRAP' 'Domain 0 crashed'; do
    if grep -q "$pat" <<<"$clean"; then problem="${problem:+$problem; }'$pat' in the serial log"; fi
done

dom0_checked=$(e2e_dom0_kernel_check <<<"$clean")
dom0_bad=$(sed -n 's/^FAIL //p' <<<"$dom0_checked" | head -n 5)
dom0_stall=$(sed -n 's/^STALL //p' <<<"$dom0_checked" | head -n 5)
if [ -n "$dom0_bad" ]; then
    problem="${problem:+$problem; }dom0's kernel reported: $(head -n1 <<<"$dom0_bad")"
fi

# one file per scenario with its part of the console (E2E-BEGIN..E2E-RESULT)
SECDIR=${LOG%.log}.d
mkdir -p "$SECDIR"
awk -v dir="$SECDIR" '
    /^E2E-BEGIN / { if (f) close(f); f = dir "/" $2 ".log" }
    f { print > f }
    /^E2E-RESULT / { if (f) close(f); f = "" }' <<<"$clean"

npass=0 nfail=0
failed=()
echo
for s in "${SCEN[@]}"; do
    line=$(grep -o "E2E-RESULT $s \(PASS\|FAIL\).*" <<<"$clean" | tail -n1 || true)
    case $line in
        "E2E-RESULT $s PASS"*)
            echo "PASS $s${line#"E2E-RESULT $s PASS"}"
            npass=$((npass + 1))
            ;;
        "E2E-RESULT $s FAIL"*)
            echo "FAIL $s:${line#"E2E-RESULT $s FAIL"}"
            nfail=$((nfail + 1))
            failed+=("$s")
            ;;
        *)
            echo "FAIL $s: no result marker${problem:+ ($problem)}"
            nfail=$((nfail + 1))
            failed+=("$s")
            ;;
    esac
done
if [ -n "$problem" ]; then
    echo "run problem: $problem"
fi
if [ -n "$dom0_bad" ]; then
    echo "dom0 kernel lines that fail the run:"
    sed 's/^/    /' <<<"$dom0_bad"
fi
if [ -n "$dom0_stall" ]; then
    echo "dom0 kernel stalls (reported, not failed; docs/e2e.md):"
    sed 's/^/    /' <<<"$dom0_stall"
fi
for s in "${failed[@]}"; do
    [ -s "$SECDIR/$s.log" ] || continue
    echo
    echo "----- $s: console of the scenario (last 80 lines of $SECDIR/$s.log)"
    tail -n 80 "$SECDIR/$s.log"
    echo "-----"
done
if [ -n "$problem" ]; then
    echo
    echo "----- last 60 lines of $LOG"
    tail -n 60 <<<"$clean"
    echo "-----"
fi
echo
echo "serial log: $LOG"
echo "timings: images ${t_images}s, QEMU run ${t_run}s"
echo "e2e: $npass passed, $nfail failed"
if [ "$nfail" -gt 0 ] || [ -n "$problem" ]; then exit 1; fi
exit 0
