#!/usr/bin/env bash
# Installs the real peers the integration tests start on loopback (Debian packages).
# Needs root (or sudo). Safe to run again.
set -euo pipefail
packages=(
  prometheus prometheus-node-exporter   # a real Prometheus scraping us; node_exporter to cross-check host values
  victoria-metrics                      # a remote-write receiver besides Prometheus's own
  snmpd snmp                            # SNMP agent and tools
  openipmi freeipmi-tools ipmitool      # ipmi_sim BMC simulator, ipmi-sensors
  libvirt0 libvirt-clients              # libvirt's C library (test:/// driver) and virsh
  libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86  # libvirtd with the QEMU driver, QEMU (TCG guests)
  iproute2 util-linux                   # ip, unshare, setpriv: the private libvirtd's namespace and tap
  python3-pandas                        # a real CSV reader for our CSV files
  prometheus-snmp-exporter prometheus-ipmi-exporter prometheus-libvirt-exporter  # real expositions for the prometheus receiver's parser
  golang-github-prometheus-client-golang-dev  # the Go client library, serving OpenMetrics with exemplars
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev  # Helm's template engine, to render the chart
  chromium                              # headless browser: the experiment report renders
  postgresql                            # PostgreSQL 15 (server, psql, postgres_fdw): the postgresql exporter's store, kwollect's promoted_metrics
  influxdb victoria-metrics             # InfluxDB 1.x and a 2.x-write-API peer for the influxdb exporter
  buildah podman debootstrap uidmap     # build and run the container image; its local base images
)
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies: all ${#packages[@]} Debian packages present"
  exit 0
fi
echo "test dependencies: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Tests start their own instances on their own ports: keep Debian from starting the packaged
# daemons (snmpd, prometheus, node_exporter, libvirtd, postgresql, …) while they are
# installed, through a policy-rc.d that refuses every start for the length of the install.
# Daemons already running on this machine are left alone.
policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then
  saved=$(mktemp)
  "${sudo_cmd[@]}" cp -p "$policy" "$saved"
fi
restore_policy() {
  if [ -n "$saved" ]; then
    "${sudo_cmd[@]}" cp -p "$saved" "$policy"
    rm -f "$saved"
  else
    "${sudo_cmd[@]}" rm -f "$policy"
  fi
}
trap restore_policy EXIT
printf '#!/bin/sh\n# Written by inframeter install-test-deps.sh for the length of its install.\nexit 101\n' |
  "${sudo_cmd[@]}" tee "$policy" >/dev/null
"${sudo_cmd[@]}" chmod 755 "$policy"
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "test dependencies: installed"
