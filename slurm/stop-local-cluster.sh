#!/usr/bin/env bash
# Stop the cluster that start-local-cluster.sh started, by the pids it recorded, and remove
# the network namespaces, veth pairs and bridge of a multi-node one. Keeps its state folder
# (remove $REDUN_FAST_SLURM_DIR to start afresh).
set -u

STATE=${REDUN_FAST_SLURM_DIR:-/tmp/redun_fast-slurm}

stop() {  # stop PIDFILE
  local pid
  [ -f "$1" ] || return 0
  pid=$(cat "$1")
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do
      [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

for pidfile in "$STATE"/run/slurmd*.pid; do
  stop "$pidfile"
done
stop "$STATE/run/slurmctld.pid"
stop "$STATE/run/munged.pid"
for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^rf-node[0-9]+$/ {print $1}'); do
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true  # its jobs, too
  ip netns del "$ns"
done
for link in $(ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^rfh[0-9]+@/ {split($2, a, "@"); print a[1]}'); do
  ip link del "$link" 2>/dev/null || true
done
ip link del rfbr0 2>/dev/null || true
rm -f "$STATE/shape"
echo "local Slurm cluster stopped"
