#!/usr/bin/env bash
# Start a throw-away single-node Slurm cluster on localhost: a private munged, slurmctld and
# slurmd, all state under $REDUN_FAST_SLURM_DIR (default /tmp/redun_fast-slurm). Installs
# Debian's slurm-wlm and munge if they are missing (needs root). Idempotent: a running
# cluster is left alone, a dead daemon is restarted. Afterwards sinfo/sbatch work in any
# shell through /etc/slurm/slurm.conf. Stop it with slurm/stop-local-cluster.sh.
set -euo pipefail

STATE=${REDUN_FAST_SLURM_DIR:-/tmp/redun_fast-slurm}
CPUS=${REDUN_FAST_SLURM_CPUS:-32}  # advertised CPUs: tiny jobs mostly wait, so oversubscribe
NODE=localnode

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

mkdir -p "$STATE"/{munge/etc,munge/run,munge/lib,log,run,spool/ctld,spool/d}
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

CONF="$STATE/slurm.conf"
cat > "$CONF" <<EOF
ClusterName=redun_fast_local
SlurmctldHost=$(hostname)(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MaxArraySize=100001
MaxJobCount=200000
MinJobAge=300
KillWait=5
InactiveLimit=0
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
NodeName=$NODE NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=16000 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=short Nodes=$NODE MaxTime=01:00:00 State=UP
EOF
mkdir -p /etc/slurm
ln -sf "$CONF" /etc/slurm/slurm.conf

if ! alive "$STATE/run/munged.pid"; then
  munged --force --key-file="$KEY" --socket="$SOCKET" --pid-file="$STATE/run/munged.pid" \
    --log-file="$STATE/log/munged.log" --seed-file="$STATE/munge/lib/munged.seed"
fi
if ! alive "$STATE/run/slurmctld.pid"; then
  slurmctld -f "$CONF"
fi
if ! alive "$STATE/run/slurmd.pid"; then
  slurmd -f "$CONF" -N "$NODE"
fi

for _ in $(seq 1 60); do
  state=$(sinfo -h -n "$NODE" -o '%T' 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle*|mixed*|allocated*) echo "local Slurm cluster is up ($NODE: $state; state in $STATE)"; exit 0 ;;
    down*|drain*) scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.5
done
echo "the local Slurm cluster did not come up; see $STATE/log/" >&2
tail -n 20 "$STATE"/log/*.log >&2 || true
exit 1
