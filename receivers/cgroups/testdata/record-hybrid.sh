#!/bin/sh
# Records testdata/fixtures/hybrid-recorded from this machine's cgroup v1 + unified (hybrid) tree.
#
# Creates two cgroups in every v1 controller and in the unified hierarchy, named as Docker
# (cgroupfs driver: /docker/<id>) and the kubelet (cgroupfs driver:
# /kubepods/burstable/pod<uid>/<id>) name theirs, moves a workload into each (its own network
# namespace, CPU burn, 48 MiB of anonymous memory, UDP on lo, 8 MiB of O_DIRECT writes), copies
# the files the receiver reads, then removes the cgroups. Every value in the copied files was
# written by the kernel. Run as root: sh testdata/record-hybrid.sh
set -eu
cd "$(dirname "$0")"
OUT=fixtures/hybrid-recorded
CG=/sys/fs/cgroup
PY=${PYTHON:-python3}
DOCKER_ID=3f4c2d9b8a7e6f5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a29180f7e6d5c
POD_UID=8d3b6a52-1f0c-4e2b-9a57-0c6e4d2f1b3a
K8S_ID=9a8b7c6d5e4f30211f2e3d4c5b6a79880a1b2c3d4e5f60718293a4b5c6d7e8f9
DOCKER=/docker/$DOCKER_ID
POD=/kubepods/burstable/pod$POD_UID
K8S=$POD/$K8S_ID
CONTROLLERS="cpu cpuacct memory blkio pids unified"
WORK=$(mktemp -d)

cleanup() {
  for pid in $(cat "$WORK"/pids 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for c in $CONTROLLERS; do
    for p in $K8S $POD /kubepods/burstable /kubepods $DOCKER /docker; do rmdir "$CG/$c$p" 2>/dev/null || true; done
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/work.py" <<'EOF'
import mmap, os, socket, sys, time
anon = bytearray(48 * 1024 * 1024)
for i in range(0, len(anon), 4096):
    anon[i] = 1
start = time.time()
n = 0
while time.time() - start < float(sys.argv[2]):
    n += 1
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(('127.0.0.1', 0))
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[3])):
    tx.sendto(b'x' * 512, rx.getsockname())
    rx.recv(1024)
page = mmap.mmap(-1, 1 << 20)
page.write(b'a' * (1 << 20))
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_DIRECT)
for _ in range(8):
    os.write(fd, page)
os.fsync(fd)
os.close(fd)
os.unlink(sys.argv[1])
open(sys.argv[1] + '.ready', 'w').close()
time.sleep(600)
EOF

for c in $CONTROLLERS; do mkdir -p "$CG/$c$DOCKER" "$CG/$c$K8S"; done
echo 268435456 >"$CG/memory$DOCKER/memory.limit_in_bytes"
echo 50000 >"$CG/cpu$DOCKER/cpu.cfs_quota_us"
# blk-throttle counts the I/O of a group only when the group has a rule on the device: a rule
# far above what the workload does (1 TiB/s) makes it count without limiting anything.
DEV=$(stat -c '%Hd:%Ld' "$WORK")
for p in $DOCKER $K8S; do
  echo "$DEV 1099511627776" >"$CG/blkio$p/blkio.throttle.write_bps_device"
  echo "$DEV 1099511627776" >"$CG/blkio$p/blkio.throttle.read_bps_device"
done

start() { # cgroup path, cpu seconds, packets
  (
    for c in $CONTROLLERS; do echo 0 >"$CG/$c$1/cgroup.procs"; done
    exec unshare -n sh -c "ip link set lo up && exec $PY $WORK/work.py $WORK/io-\$\$ $2 $3"
  ) &
  echo $! >>"$WORK/pids"
}
start "$DOCKER" 1.5 200
start "$K8S" 0.7 50
for pid in $(cat "$WORK/pids"); do
  until [ -e "$WORK/io-$pid.ready" ]; do sleep 0.1; done
done

rm -rf "$OUT"
copy() { # hierarchy, cgroup path, files...
  h=$1 p=$2
  shift 2
  mkdir -p "$OUT/sys/fs/cgroup/$h$p"
  for f in "$@"; do
    [ -e "$CG/$h$p/$f" ] && cat "$CG/$h$p/$f" >"$OUT/sys/fs/cgroup/$h$p/$f"
  done
  return 0
}
for p in / /docker $DOCKER /kubepods /kubepods/burstable $POD $K8S; do
  copy cpu "$p" cgroup.procs cpu.stat cpu.shares cpu.cfs_quota_us cpu.cfs_period_us
  copy cpuacct "$p" cgroup.procs cpuacct.usage cpuacct.stat cpuacct.usage_user cpuacct.usage_sys
  copy memory "$p" cgroup.procs memory.usage_in_bytes memory.limit_in_bytes memory.max_usage_in_bytes memory.stat
  copy blkio "$p" cgroup.procs blkio.throttle.io_service_bytes blkio.throttle.io_serviced \
    blkio.throttle.io_service_bytes_recursive blkio.throttle.io_serviced_recursive
  copy pids "$p" cgroup.procs pids.current pids.max
  copy unified "$p" cgroup.procs cgroup.controllers cpu.stat cpu.pressure memory.pressure io.pressure
done
# The root cgroup lists every process of the host: keep only the first line of cgroup.procs.
for h in cpu cpuacct memory blkio pids unified; do
  head -n 1 "$CG/$h/cgroup.procs" >"$OUT/sys/fs/cgroup/$h/cgroup.procs"
done
mkdir -p "$OUT/proc/1" "$OUT/sys/dev/block/$DEV"
# Only the lines that say where proc, sys and the cgroup hierarchies are.
awk '$3 ~ /^(proc|sysfs|cgroup|cgroup2)$/ || $2 == "/sys/fs/cgroup"' /proc/1/mounts >"$OUT/proc/1/mounts"
# /proc/1/ns/net cannot be read here (EACCES); this process is in the host namespace.
mkdir -p "$OUT/proc/1/ns"
ln -s "$(readlink /proc/self/ns/net)" "$OUT/proc/1/ns/net"
cat "/sys/dev/block/$DEV/uevent" >"$OUT/sys/dev/block/$DEV/uevent"
for pid in $(cat "$WORK/pids"); do
  mkdir -p "$OUT/proc/$pid/net" "$OUT/proc/$pid/ns"
  cat "/proc/$pid/net/dev" >"$OUT/proc/$pid/net/dev"
  ln -s "$(readlink "/proc/$pid/ns/net")" "$OUT/proc/$pid/ns/net"
done
uname -r >"$OUT/KERNEL"
echo "recorded into $OUT"
