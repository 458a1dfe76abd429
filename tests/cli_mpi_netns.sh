#!/usr/bin/env bash
# Two ranks as two "hosts": network namespaces made here, joined by a veth pair with
# addresses of our own (10.77.0.1 and 10.77.0.2), so every MPI byte crosses a real
# network stack (TCP over the veth; Open MPI is told to use only that subnet, and the
# second "host" is reached through a launcher script that enters its namespace, the way
# ssh would reach a remote node). Checks:
#   1. the communicator's collectives across the hosts (tests/mpi_check.c), and that
#      the traffic went over the veth;
#   2. a rank killed on the remote host -> the job fails non-zero within 30 s;
#   3. the link cut mid-job (a network partition) -> the job fails non-zero within
#      30 s (ranks: collective timeout; mpirun: OOB TCP keepalive);
#   4. simnet train on the two hosts gives the model of the same run on one host.
# Skips (77) unless root with `ip netns`, mpirun and a SIMNET_MPI build.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_mpi_netns "${1:-}"
command -v mpirun >/dev/null 2>&1 || { echo "mpirun not found: skipping"; exit 77; }
# Sanitizer builds: Open MPI's own allocations outlive MPI_Finalize (LeakSanitizer would
# fail every rank); leaks of simnet's code are checked by the single-process tests.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
CHECK=${SIMNET_MPI_CHECK:-}
[ -n "$CHECK" ] && [ -x "$CHECK" ] || { echo "simnet built without SIMNET_MPI: skipping"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "not root: cannot create network namespaces: skipping"; exit 77; }
command -v ip >/dev/null 2>&1 || { echo "ip (iproute2) not found: skipping"; exit 77; }

NA=snmpi$$a NB=snmpi$$b VA=snv$$a VB=snv$$b A=10.77.0.1 B=10.77.0.2
cleanup() {
  local p
  for p in $(ip netns pids "$NA" 2>/dev/null) $(ip netns pids "$NB" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  ip netns del "$NA" 2>/dev/null; ip netns del "$NB" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
# A container without CAP_NET_ADMIN / CAP_SYS_ADMIN cannot do this: skip, saying why.
{ ip netns add "$NA" && ip netns exec "$NA" true && ip netns add "$NB" &&
  ip link add "$VA" type veth peer name "$VB" &&
  ip link set "$VA" netns "$NA" && ip link set "$VB" netns "$NB" &&
  ip -n "$NA" addr add $A/24 dev "$VA" && ip -n "$NB" addr add $B/24 dev "$VB" &&
  ip -n "$NA" link set lo up && ip -n "$NA" link set "$VA" up &&
  ip -n "$NB" link set lo up && ip -n "$NB" link set "$VB" up; } 2>"$T/err" \
  || { echo "cannot make network namespaces and a veth pair here ($(tr '\n' ' ' <"$T/err")): skipping"; exit 77; }

# The "remote shell" of the launcher: enter the host's namespace (Open MPI calls
# AGENT [options] HOST COMMAND...).
cat >"$T/nsrsh" <<EOS
#!/bin/sh
while [ \$# -gt 0 ]; do case \$1 in -*) shift;; *) break;; esac; done
host=\$1; shift
case \$host in $A) ns=$NA;; $B) ns=$NB;; *) echo "nsrsh: unknown host \$host" >&2; exit 1;; esac
exec ip netns exec \$ns /bin/sh -c "\$*"
EOS
chmod +x "$T/nsrsh"
# One rank per host; TCP only (no shared memory between the "hosts"), on our subnet;
# OOB keepalive (1 s idle, 1 s interval, 3 probes) so mpirun notices a lost host in
# seconds instead of TCP's minutes.
MPIRUN=(ip netns exec "$NA" mpirun -x ASAN_OPTIONS --allow-run-as-root -np 2 --host $A:1,$B:1
        --mca plm_rsh_agent "$T/nsrsh" --mca btl self,tcp
        --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24
        --mca oob_tcp_keepalive_time 1 --mca oob_tcp_keepalive_intvl 1 --mca oob_tcp_keepalive_probes 3)
rx() { ip -n "$NB" -s link show "$VB" | awk 'f{print $1; exit} /RX:/{f=1}'; }

# 1. collectives across the hosts ------------------------------------------------
rx0=$(rx)
timeout 120 "${MPIRUN[@]}" "$CHECK" >"$T/check.out" 2>&1 && ok || bad "mpi_check on two hosts: $(tail -20 "$T/check.out")"
[ "$(grep -c ': ok$' "$T/check.out")" = 2 ] && ok || bad "mpi_check on two hosts: not every rank ok: $(cat "$T/check.out")"
rx1=$(rx)
[ $((rx1 - rx0)) -gt 4000000 ] && ok || bad "only $((rx1 - rx0)) bytes crossed the veth (want > 4 MB)"
echo "cli_mpi_netns: $((rx1 - rx0)) bytes received by host $B over the veth"

# 2. a rank killed on the remote host --------------------------------------------
t0=$(date +%s)
timeout 90 "${MPIRUN[@]}" "$CHECK" --die 1 >"$T/die.out" 2>&1; rc=$?; el=$(( $(date +%s) - t0 ))
[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $el -le 30 ] && ok || bad "rank killed: exit $rc after $el s (want non-zero within 30 s)"
grep -q "signal 9\|Killed" "$T/die.out" && ok || bad "rank killed: no message: $(tail -20 "$T/die.out")"

# 3. the link cut mid-job ----------------------------------------------------------
t0=$(date +%s)
SIMNET_COMM_TIMEOUT=5 timeout 90 "${MPIRUN[@]}" -x SIMNET_COMM_TIMEOUT "$CHECK" --hang 9 >"$T/cut.out" 2>&1 &
job=$!
sleep 2
ip -n "$NB" link set "$VB" down
wait $job; rc=$?; el=$(( $(date +%s) - t0 ))
[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $el -le 30 ] && ok || bad "link cut: exit $rc after $el s (want non-zero within 30 s)"
grep -q "lost communication\|waited more than 5 s" "$T/cut.out" && ok || bad "link cut: no message: $(grep -v '^\[' "$T/cut.out" | tail -20)"
for p in $(ip netns pids "$NB"); do kill -9 "$p" 2>/dev/null; done   # the cut-off host's orphans
ip -n "$NB" link set "$VB" up

# 4. simnet train across the two hosts ------------------------------------------------
if [ -n "${SIMNET_DATA:-}" ] && ls "$SIMNET_DATA"/mnist/t10k-images-idx3-ubyte* >/dev/null 2>&1; then
  ARCH="conv 8 3 1 1; avgpool 2; conv 16 3 1 1; avgpool 2; flatten; linear 32"
  TR=(train --data "$SIMNET_DATA" --dataset mnist --arch "$ARCH" --optimizer sgd --lr 0.01 --seed 5
      --batch-size 128 --max-steps 20 --val-size 1000 --threads 1)
  timeout 120 "${MPIRUN[@]}" "$SIMNET" "${TR[@]}" --out "$T/h2.snm" >"$T/h2.out" 2>&1 && ok \
    || bad "train on two hosts: $(tail -10 "$T/h2.out")"
  timeout 120 mpirun -x ASAN_OPTIONS --allow-run-as-root --oversubscribe --bind-to none -np 2 \
    "$SIMNET" "${TR[@]}" --out "$T/l2.snm" >"$T/l2.out" 2>&1 && ok || bad "train on 2 local ranks: $(tail -10 "$T/l2.out")"
  "$SIMNET" "${TR[@]}" --out "$T/l1.snm" >"$T/l1.out" 2>&1 && ok || bad "train on 1 process: $(tail -10 "$T/l1.out")"
  # the transport does not change a bit; one process differs by rounding only
  # (tests/cli_mpi_train.sh explains the tolerance)
  "$CHECK" --compare "$T/h2.snm" "$T/l2.snm" 0 >"$T/cmp" 2>&1 && ok || bad "two hosts vs 2 local ranks: $(cat "$T/cmp")"
  echo "cli_mpi_netns: two hosts vs 2 local ranks: $(cat "$T/cmp")"
  "$CHECK" --compare "$T/h2.snm" "$T/l1.snm" 1e-5 >"$T/cmp" 2>&1 && ok || bad "two hosts vs 1 process: $(cat "$T/cmp")"
  echo "cli_mpi_netns: two hosts vs 1 process: $(cat "$T/cmp")"
else
  echo "SIMNET_DATA with mnist not set: skipping the training check"
fi

echo "cli_mpi_netns: $pass passed, $fail failed"
[ $fail -eq 0 ]
