#!/usr/bin/env bash
# Stop the cluster that start-local-cluster.sh started, by the pids it recorded.
# Keeps its state folder (remove $REDUN_FAST_SLURM_DIR to start afresh).
set -u

STATE=${REDUN_FAST_SLURM_DIR:-/tmp/redun_fast-slurm}

for daemon in slurmd slurmctld munged; do
  pidfile="$STATE/run/$daemon.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do
      [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
done
echo "local Slurm cluster stopped"
