#!/usr/bin/env bash
# Send throughput/latency: lone master vs ASYNC_MASTER+replica vs SYNC_MASTER+replica.
set -uo pipefail
# Build first: cargo build --release -p skylark-cli; cargo bench -p skylark-broker --bench pipelined_send --no-run
# BIN: the skylark binary; GEN: the pipelined_send bench executable (target/release/deps/pipelined_send-*).
BIN=${BIN:-target/release/skylark}; GEN=${GEN:?set GEN to the pipelined_send executable}
root=${ROOT:-/tmp/habench}; rm -rf $root; mkdir -p $root
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
waitline() { for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done; echo "timeout $1" >&2; return 1; }
lagsample() { while true; do curl -s "http://127.0.0.1:$1/metrics" | awk '/^skylark_ha_replica_lag_bytes\{/ {print $2}'; sleep 0.5; done; }
run_case() {
  local case=$1 role=$2 replica=$3 d=$root/$1
  mkdir -p $d
  local ns=$(port) mp=$(port) mha=$(port) mhttp=$(port) rp=$(port) rha=$(port)
  $BIN nameserver --listen 127.0.0.1:$ns --no-persist >$d/ns.out 2>$d/ns.log & pids+=($!)
  waitline $d/ns.out "ready"
  printf 'brokerClusterName=B\nbrokerName=bench-ha\nbrokerId=0\nbrokerRole=%s\nbrokerIP1=127.0.0.1\nhaListenPort=%s\nhttpListenPort=%s\nmappedFileSizeCommitLog=67108864\n' $role $mha $mhttp >$d/m.conf
  RUST_LOG=warn $BIN broker -c $d/m.conf --namesrv-addr 127.0.0.1:$ns --listen-port $mp --fast-port $((mp+1000)) --data-dir $d/m >$d/m.out 2>$d/m.log & local mpid=$!; pids+=($mpid)
  waitline $d/m.out "ready"
  local rpid=""
  if [[ $replica == 1 ]]; then
    printf 'brokerClusterName=B\nbrokerName=bench-ha\nbrokerId=1\nbrokerRole=SLAVE\nbrokerIP1=127.0.0.1\nhaListenPort=%s\nhaMasterAddress=127.0.0.1:%s\nmappedFileSizeCommitLog=67108864\n' $rha $mha >$d/r.conf
    RUST_LOG=warn $BIN broker -c $d/r.conf --namesrv-addr 127.0.0.1:$ns --listen-port $rp --fast-port $((rp+1000)) --data-dir $d/r >$d/r.out 2>$d/r.log & rpid=$!; pids+=($rpid)
    waitline $d/r.out "ready"
    for _ in $(seq 1 100); do curl -s http://127.0.0.1:$mhttp/metrics | grep -q '^skylark_ha_replicas_connected 1' && break; sleep 0.2; done
  fi
  for mode in unlimited rate; do
    local extra=""; [[ $mode == rate ]] && extra="--rate 4000"
    lagsample $mhttp >$d/lag.$mode & local lp=$!
    $GEN --bench --addr 127.0.0.1:$mp --connections 2 --inflight 16 --size 1024 --warmup 2 --duration 10 --pid $mpid $extra 2>&1 | grep RESULT | sed "s/^/$case $mode /"
    kill $lp; wait $lp 2>/dev/null
    if [[ $replica == 1 ]]; then
      sort -n $d/lag.$mode | awk -v c="$case $mode" '{a[NR]=$1; s+=$1} END {if (NR) printf "%s LAG samples=%d mean=%.0f max=%d\n", c, NR, s/NR, a[NR]}'
    fi
  done
  [[ -n $rpid ]] && kill $rpid; kill $mpid; sleep 1
  rm -rf $d/m $d/r
}
uptime
run_case lone ASYNC_MASTER 0
run_case async ASYNC_MASTER 1
run_case sync SYNC_MASTER 1
uptime
