#!/usr/bin/env bash
# Installs Debian's SLURM (22.05 on Debian 12) and runs a ONE-NODE cluster on
# this machine, so that tests can submit real sbatch jobs (array jobs included).
#
# Usage (as root):
#   bash scripts/slurm_local.sh install   # apt-get the packages (skips what is installed)
#   bash scripts/slurm_local.sh start     # munged + slurmctld + slurmd, wait until the node is idle
#   bash scripts/slurm_local.sh stop      # stop the daemons this script started
#   bash scripts/slurm_local.sh status    # sinfo + squeue
#
# Every verb is idempotent: `start` when already up only re-checks the node,
# `stop` when nothing runs does nothing.
#
# Design notes
# - Works without systemd and without cgroups (containers, gVisor):
#   proctrack/linuxproc, task/none, no accounting, no job-acct gathering.
# - select/cons_tres + CR_CPU: each CPU is schedulable on its own, so N 1-CPU
#   jobs (or array tasks) run concurrently on an N-CPU machine.
# - The config goes to /etc/slurm (Debian's default), so sbatch/squeue/sinfo
#   need no SLURM_CONF. An existing /etc/slurm/slurm.conf that this script did
#   not write (no marker line) is left alone and used as is.
# - The daemons run in the foreground (-D) in their own session, detached from
#   the caller's stdin/stdout/stderr (so a `| tee` in CI never hangs on them);
#   their PIDs are kept in $RUN_DIR, and `stop` only kills those PIDs.
# - Job/controller state lives in $STATE_DIR; `stop` sends SIGTERM so state is
#   saved, and the next `start` resumes from it (job ids keep increasing).
#   SLURM_LOCAL_CLEAN=1 bash scripts/slurm_local.sh start  wipes that state.
#
# Environment knobs (all optional):
#   SLURM_LOCAL_TIMEOUT   seconds to wait for the node to become idle (default 60)
#   SLURM_LOCAL_CLEAN     1: clear saved controller/slurmd state on start
set -euo pipefail

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
CGROUP_CONF=$CONF_DIR/cgroup.conf
MARKER="# Written by tokrl scripts/slurm_local.sh"
STATE_DIR=/var/spool/slurm-local        # StateSaveLocation + SlurmdSpoolDir
LOG_DIR=/var/log/slurm-local
RUN_DIR=/run/slurm-local                # PID files of the daemons we started
TIMEOUT=${SLURM_LOCAL_TIMEOUT:-60}
PACKAGES=(munge slurmctld slurmd slurm-client)

log() { echo "[slurm_local] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root"; }

# Node name: the short hostname (what slurmd would call itself), else localhost.
node_name() {
  local n
  n=$(hostname -s 2>/dev/null || true)
  [[ -n $n ]] || n=localhost
  echo "$n"
}

# ---------------------------------------------------------------- install ---
cmd_install() {
  need_root
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
      missing+=("$p")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "packages already installed: ${PACKAGES[*]}"
    return 0
  fi
  log "installing: ${missing[*]}"
  # Keep the packages' maintainer scripts from starting services (no systemd
  # here; `start` launches the daemons itself). Only if no policy exists yet.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
    # shellcheck disable=SC2064
    trap "rm -f '$policy'" EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
  if [[ $made_policy -eq 1 ]]; then rm -f "$policy"; trap - EXIT; fi
  log "installed: $(dpkg-query -W -f='${Package} ${Version}\n' "${PACKAGES[@]}" | tr '\n' ' ')"
}

# ------------------------------------------------------------ pid helpers ---
# proc_running PID: true if PID exists and is not a zombie (an unreaped dead
# process still has a /proc entry; PID 1 in containers may reap late).
proc_running() {
  local pid=$1 stat
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }          # drop "PID (comm) " -> "STATE PPID ..."
  [[ ${stat%% *} != [ZX] ]]
}

# pid_alive FILE NAME: true if FILE holds the PID of a running process whose
# command name is NAME (guards against stale PID files / reused PIDs).
pid_alive() {
  local file=$1 name=$2 pid
  [[ -f $file ]] || return 1
  pid=$(cat "$file" 2>/dev/null || true)
  proc_running "$pid" || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name"* ]]
}

# stop_pid FILE NAME: SIGTERM the process from FILE, wait up to 20 s, then KILL.
stop_pid() {
  local file=$1 name=$2 pid i
  if ! pid_alive "$file" "$name"; then
    rm -f "$file"
    return 0
  fi
  pid=$(cat "$file")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    proc_running "$pid" || break
    sleep 0.1
  done
  if proc_running "$pid"; then
    log "$name did not exit after SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$file"
}

# ------------------------------------------------------------------ munge ---
munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  command -v munged >/dev/null || die "munged not found: run '$0 install' first"
  # Key: the munge package normally creates one; make one if it is missing.
  if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating /etc/munge/munge.key"
    install -d -o munge -g munge -m 0700 /etc/munge
    if command -v mungekey >/dev/null; then
      mungekey --create --keyfile=/etc/munge/munge.key
    else
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  if munge_works; then
    log "munged already running"
    return 0
  fi
  # Directories systemd-tmpfiles would normally create.
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
  rm -f /run/munge/munged.pid /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  log "starting munged"
  # munged daemonizes itself and writes /run/munge/munged.pid.
  runuser -u munge -- /usr/sbin/munged </dev/null >>"$LOG_DIR/munged.stdout" 2>&1 \
    || die "munged failed to start: $(tail -n 20 "$LOG_DIR/munged.stdout" /var/log/munge/munged.log 2>/dev/null)"
  local i
  for ((i = 0; i < 50; i++)); do
    munge_works && break
    sleep 0.1
  done
  munge_works || die "munge does not work after starting munged: $(tail -n 20 /var/log/munge/munged.log 2>/dev/null)"
  # Remember that we started it, so `stop` stops it (and only it).
  cp /run/munge/munged.pid "$RUN_DIR/munged.pid"
}

# ------------------------------------------------------------ slurm.conf ---
write_conf() {
  local node cpus mem_kb mem_mb
  node=$(node_name)
  cpus=$(nproc)
  mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
  # Declare 95% of MemTotal: slurmd drains a node that reports less memory
  # than configured, and the kernel's figure wobbles a little.
  mem_mb=$((mem_kb * 95 / 100 / 1024))
  install -d -m 0755 "$CONF_DIR"
  local tmp
  tmp=$(mktemp "$CONF_DIR/.slurm.conf.XXXXXX")
  cat >"$tmp" <<EOF
$MARKER
# (it rewrites this file on every start; delete the first line to keep edits)
# Single-node cluster for tests: node "$node" at 127.0.0.1, $cpus CPUs, ${mem_mb} MB.
ClusterName=tokrl-local
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
# No systemd/cgroups needed:
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
# Per-CPU scheduling so several 1-CPU jobs share the node:
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Trust this file's node description (never drain for a hardware mismatch),
# and bring a DOWN node back as soon as its slurmd registers.
SlurmdParameters=config_overrides
ReturnToService=2
# Fast turnaround for tests.
SchedulerParameters=sched_interval=2
MessageTimeout=10
SlurmdTimeout=300
InactiveLimit=0
KillWait=5
MinJobAge=300
MaxArraySize=10001
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/d
SlurmctldPidFile=$RUN_DIR/slurmctld.daemon.pid
SlurmdPidFile=$RUN_DIR/slurmd.daemon.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  chmod 0644 "$tmp"
  mv -f "$tmp" "$CONF"
  # cgroup.conf is not read with the plugins above, but write a harmless one
  # if none exists so that nothing complains about it missing.
  if [[ ! -e $CGROUP_CONF ]] || head -n 1 "$CGROUP_CONF" | grep -qxF "$MARKER"; then
    printf '%s\nCgroupAutomount=no\nConstrainCores=no\nConstrainRAMSpace=no\n' "$MARKER" >"$CGROUP_CONF"
  fi
  log "wrote $CONF (node $node, CPUs=$cpus, RealMemory=$mem_mb)"
}

# Node name as the active config spells it (ours or a foreign one).
conf_node_name() {
  if ours_conf; then
    node_name
  else
    # First NodeName= that is not DEFAULT.
    grep -Eio '^[[:space:]]*NodeName=[^[:space:]]+' "$CONF" | sed 's/.*=//' | grep -vix default | head -n 1
  fi
}

ours_conf() { [[ -f $CONF ]] && head -n 1 "$CONF" | grep -qxF "$MARKER"; }

# ------------------------------------------------------------- daemons -----
# launch NAME ARGS...: run a slurm daemon in the foreground in its own session,
# detached from our stdio, and record its PID in $RUN_DIR/NAME.pid.
launch() {
  local name=$1
  shift
  log "starting $name"
  setsid "$@" </dev/null >>"$LOG_DIR/$name.stdout" 2>&1 &
  echo $! >"$RUN_DIR/$name.pid"
}

node_state() {
  # e.g. idle, idle*, mix, alloc, down*, drain, unk*; empty if no answer.
  sinfo -h -N -n "$1" -o '%t' 2>/dev/null | head -n 1 || true
}

# slurmd_registered_since NODE EPOCH: the node's slurmd registered at/after EPOCH.
slurmd_registered_since() {
  local t
  t=$(scontrol show node "$1" 2>/dev/null | grep -o 'SlurmdStartTime=[^ ]*' | cut -d= -f2)
  [[ -n $t && $t != None && $t != Unknown ]] || return 1
  t=$(date -d "$t" +%s 2>/dev/null) || return 1
  ((t >= $2))
}

diagnostics() {
  log "---- diagnostics ----"
  sinfo -N -l >&2 2>&1 || true
  scontrol show node 2>&1 | head -n 30 >&2 || true
  local f
  for f in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmctld.stdout" \
    "$LOG_DIR/slurmd.log" "$LOG_DIR/slurmd.stdout" /var/log/munge/munged.log; do
    [[ -f $f ]] || continue
    echo "---- tail -n 40 $f ----" >&2
    tail -n 40 "$f" >&2 || true
  done
}

cmd_start() {
  need_root
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null; then
    die "SLURM not installed: run '$0 install' first"
  fi
  install -d -m 0755 "$RUN_DIR" "$LOG_DIR" "$STATE_DIR"
  install -d -m 0700 "$STATE_DIR/ctld" "$STATE_DIR/d"

  start_munge

  local ctld_up=0 slurmd_up=0
  pid_alive "$RUN_DIR/slurmctld.pid" slurmctld && ctld_up=1
  pid_alive "$RUN_DIR/slurmd.pid" slurmd && slurmd_up=1

  # Config: ours is (re)written unless a daemon of ours already runs with it;
  # a foreign one is used as is.
  if [[ -f $CONF ]] && ! ours_conf; then
    log "using existing $CONF (not written by this script; left untouched)"
  elif [[ $ctld_up -eq 0 && $slurmd_up -eq 0 ]]; then
    write_conf
  fi

  local node
  node=$(conf_node_name)
  [[ -n $node ]] || die "no NodeName in $CONF"

  if [[ ${SLURM_LOCAL_CLEAN:-0} == 1 && $ctld_up -eq 0 && $slurmd_up -eq 0 ]]; then
    log "SLURM_LOCAL_CLEAN=1: clearing saved state in $STATE_DIR"
    rm -rf "${STATE_DIR:?}/ctld/"* "${STATE_DIR:?}/d/"*
  fi

  if [[ $ctld_up -eq 1 ]]; then
    log "slurmctld already running (pid $(cat "$RUN_DIR/slurmctld.pid"))"
  else
    rm -f "$RUN_DIR/slurmctld.daemon.pid"
    launch slurmctld /usr/sbin/slurmctld -D
  fi
  # If we launch slurmd now, the node only counts as up once this slurmd has
  # registered (SlurmdStartTime >= launch time): saved state may say "idle".
  local slurmd_since=0
  if [[ $slurmd_up -eq 1 ]]; then
    log "slurmd already running (pid $(cat "$RUN_DIR/slurmd.pid"))"
  else
    rm -f "$RUN_DIR/slurmd.daemon.pid"
    slurmd_since=$(date +%s)
    launch slurmd /usr/sbin/slurmd -D -N "$node"
  fi

  # Wait until the node is schedulable; resume it if it shows up DOWN/DRAINED.
  local start=$SECONDS state="" resumed=0
  while ((SECONDS - start < TIMEOUT)); do
    # (Liveness via /proc/PID only: right after launch the child may not have
    # exec'd the daemon yet, so its command name can still be bash/setsid.)
    proc_running "$(cat "$RUN_DIR/slurmctld.pid")" || { log "slurmctld exited"; diagnostics; exit 1; }
    proc_running "$(cat "$RUN_DIR/slurmd.pid")" || { log "slurmd exited"; diagnostics; exit 1; }
    state=$(node_state "$node")
    if [[ $slurmd_since -gt 0 && -n $state ]] && ! slurmd_registered_since "$node" "$slurmd_since"; then
      state="$state (slurmd not registered yet)"
    fi
    case $state in
      idle | mix | alloc | comp | idle~ | mix- | alloc+)
        log "node $node is $state after $((SECONDS - start)) s; cluster ready"
        return 0
        ;;
      down | drain | drng | drained | down~ | fail)
        # Registered (no '*'), but DOWN/DRAINED, e.g. from saved state.
        if ((resumed < 3)); then
          log "node $node is $state; resuming it"
          scontrol update NodeName="$node" State=RESUME 2>&1 | sed 's/^/[scontrol] /' >&2 || true
          resumed=$((resumed + 1))
        fi
        ;;
    esac
    sleep 1
  done
  log "node $node not idle after ${TIMEOUT} s (last state: '${state:-no answer}')"
  diagnostics
  exit 1
}

cmd_stop() {
  need_root
  # slurmd first (it may have job steps), then the controller, then munge.
  stop_pid "$RUN_DIR/slurmd.pid" slurmd
  stop_pid "$RUN_DIR/slurmctld.pid" slurmctld
  stop_pid "$RUN_DIR/munged.pid" munged
  log "stopped"
}

cmd_status() {
  local rc=0 name
  for name in munged slurmctld slurmd; do
    if pid_alive "$RUN_DIR/$name.pid" "$name"; then
      echo "$name: running (pid $(cat "$RUN_DIR/$name.pid"), started by this script)"
    else
      echo "$name: not running (from this script)"
    fi
  done
  echo "--- sinfo"
  sinfo -N -l || rc=1
  echo "--- squeue"
  squeue || rc=1
  return $rc
}

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart) cmd_stop && cmd_start ;;
  *)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
