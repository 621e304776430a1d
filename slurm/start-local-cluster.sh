#!/usr/bin/env bash
# Start a throw-away Slurm cluster on this machine: a private munged, slurmctld and slurmd,
# all state under $REDUN_FAST_SLURM_DIR (default /tmp/redun_fast-slurm). Installs Debian's
# slurm-wlm and munge if they are missing (needs root).
#
#   bash slurm/start-local-cluster.sh              one node, "localnode", on 127.0.0.1
#   bash slurm/start-local-cluster.sh --nodes 3    three nodes, node1..node3, each slurmd in
#                                                  its own network namespace (rf-node1, ...)
#
# With --nodes N, node i has the address 10.77.0.(10+i) on a private bridge (rfbr0,
# 10.77.0.1 on this side; veth pairs rfh<i>/rfn<i>): jobs really run "on other nodes" that a
# test can cut off (ip link set rfh2 down) or kill (every process of ip netns pids rf-node2),
# while the filesystem stays shared. $STATE/scheduler-address says where jobs reach a
# scheduler on this machine (127.0.0.1, or 10.77.0.1).
#
# Idempotent: a running cluster of the same shape is left alone, a dead daemon is restarted
# (a node whose slurmd died is set down first, which ends the jobs it lost), a down node is
# resumed; another shape stops the old cluster first. Afterwards sinfo/sbatch
# work in any shell through /etc/slurm/slurm.conf. Stop it with slurm/stop-local-cluster.sh.
set -euo pipefail

NODES=1
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) NODES=$2; shift 2 ;;
    --nodes=*) NODES=${1#--nodes=}; shift ;;
    *) echo "usage: $0 [--nodes N]" >&2; exit 2 ;;
  esac
done
case "$NODES" in ''|*[!0-9]*|0) echo "--nodes must be a positive number, not '$NODES'" >&2; exit 2 ;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${REDUN_FAST_SLURM_DIR:-/tmp/redun_fast-slurm}
CPUS=${REDUN_FAST_SLURM_CPUS:-32}  # advertised CPUs per node: tiny jobs mostly wait, so oversubscribe
NET=10.77.0  # the private bridge of a multi-node cluster: this project's own test hosts

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

if [ -f "$STATE/shape" ] && [ "$(cat "$STATE/shape")" != "$NODES" ]; then
  bash "$HERE/stop-local-cluster.sh"  # another shape: its controller state names other nodes
  rm -rf "$STATE/spool"
fi

mkdir -p "$STATE"/{munge/etc,munge/run,munge/lib,log,run,spool/ctld}
chmod 700 "$STATE/munge/etc" "$STATE/munge/lib"
chmod 755 "$STATE/munge/run"  # munged refuses a socket directory that others cannot enter
KEY="$STATE/munge/etc/munge.key"
SOCKET="$STATE/munge/run/munge.socket.2"
if [ ! -f "$KEY" ]; then
  dd if=/dev/urandom of="$KEY" bs=1 count=1024 status=none
  chmod 400 "$KEY"
fi

alive() {  # alive PIDFILE: the process exists and is not a zombie
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}

# The nodes: names, addresses, and how to run a command "on" each.
NAMES=()
if [ "$NODES" = 1 ]; then
  NAMES=(localnode)
  CTLD_ADDR=127.0.0.1
  NODE_LINES="NodeName=localnode NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=16000 State=UNKNOWN"
  SELECT=CR_Core
else
  CTLD_ADDR=$NET.1
  NODE_LINES=""
  if ! ip link show rfbr0 >/dev/null 2>&1; then
    ip link add rfbr0 type bridge
    ip addr add "$NET.1/24" dev rfbr0
  fi
  ip link set rfbr0 up
  for i in $(seq 1 "$NODES"); do
    name=node$i
    NAMES+=("$name")
    ns=rf-$name
    if ! ip netns list | grep -qw "$ns"; then
      ip netns add "$ns"
    fi
    if ! ip link show "rfh$i" >/dev/null 2>&1; then
      ip link add "rfh$i" type veth peer name "rfn$i"
      ip link set "rfn$i" netns "$ns"
      ip link set "rfh$i" master rfbr0
      ip netns exec "$ns" ip addr add "$NET.$((10 + i))/24" dev "rfn$i"
    fi
    ip link set "rfh$i" up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip link set "rfn$i" up
    NODE_LINES+="NodeName=$name NodeHostname=$name NodeAddr=$NET.$((10 + i)) CPUs=$CPUS RealMemory=16000 State=UNKNOWN"$'\n'
  done
  SELECT=CR_Core,CR_LLN  # least loaded node first: a handful of jobs spreads over the nodes
fi
NODELIST=$(IFS=,; echo "${NAMES[*]}")
echo "$CTLD_ADDR" > "$STATE/scheduler-address"

CONF="$STATE/slurm.conf"
cat > "$CONF" <<CONF_EOF
ClusterName=redun_fast_local
SlurmctldHost=$(hostname)($CTLD_ADDR)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/%n
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd-%n.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd-%n.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmdTimeout=10
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=$SELECT
SlurmdParameters=config_overrides
MaxArraySize=100001
MaxJobCount=200000
MinJobAge=300
KillWait=5
InactiveLimit=0
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
$NODE_LINES
PartitionName=debug Nodes=$NODELIST Default=YES MaxTime=INFINITE State=UP
PartitionName=short Nodes=$NODELIST MaxTime=01:00:00 State=UP
CONF_EOF
mkdir -p /etc/slurm
ln -sf "$CONF" /etc/slurm/slurm.conf
echo "$NODES" > "$STATE/shape"

if ! alive "$STATE/run/munged.pid"; then
  munged --force --key-file="$KEY" --socket="$SOCKET" --pid-file="$STATE/run/munged.pid" \
    --log-file="$STATE/log/munged.log" --seed-file="$STATE/munge/lib/munged.seed"
fi
controller_ran=yes
if ! alive "$STATE/run/slurmctld.pid"; then
  controller_ran=no
  slurmctld -f "$CONF"
fi
for name in "${NAMES[@]}"; do
  mkdir -p "$STATE/spool/$name"
  if ! alive "$STATE/run/slurmd-$name.pid"; then
    if [ "$controller_ran" = yes ]; then
      # The controller still counts the jobs the dead slurmd ran; a restarted one does not
      # know them, so they would hold the node's CPUs, COMPLETING, for good. Down ends them
      # (as on a real cluster after a node crash); the wait below resumes the node.
      scontrol update NodeName="$name" State=DOWN Reason="its slurmd restarted" \
        >/dev/null 2>&1 || true
    fi
    if [ "$NODES" = 1 ]; then
      slurmd -f "$CONF" -N "$name"
    else
      # nsenter, not ip netns exec: that mounts a fresh /sys, without the cgroup tree slurmd reads
      nsenter --net="/run/netns/rf-$name" slurmd -f "$CONF" -N "$name"
    fi
  fi
done

for _ in $(seq 1 120); do
  states=$(sinfo -h -N -o '%N %T' 2>/dev/null || true)
  up=0
  while read -r name state; do
    case "$state" in
      # a trailing * is "not responding": such a node gets no jobs yet, so it is not up
      idle|mixed|allocated) up=$((up + 1)) ;;
      down*|drain*) scontrol update NodeName="$name" State=RESUME >/dev/null 2>&1 || true ;;
    esac
  done <<< "$states"
  if [ "$up" -ge "${#NAMES[@]}" ]; then
    echo "local Slurm cluster is up (${#NAMES[@]} node(s): $NODELIST; state in $STATE)"
    exit 0
  fi
  sleep 0.5
done
echo "the local Slurm cluster did not come up; see $STATE/log/" >&2
sinfo -N >&2 || true
tail -n 20 "$STATE"/log/*.log >&2 || true
exit 1
