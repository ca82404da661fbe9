#!/usr/bin/env bash
# Installs the real peers the integration tests start on loopback (Debian packages).
# Needs root (or sudo). Safe to run again.
set -euo pipefail
packages=(
  prometheus prometheus-node-exporter   # a real Prometheus scraping us; node_exporter to cross-check host values
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
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian may start the packaged daemons; tests use their own ports and configs, but stop them
# so that nothing else answers on the default ports.
for d in prometheus prometheus-node-exporter snmpd; do
  "${sudo_cmd[@]}" pkill -x "$d" 2>/dev/null || true
done
echo "test dependencies: installed"
