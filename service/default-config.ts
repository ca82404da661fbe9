/**
 * The embedded default configuration: what `inframeter run` does with no `--config`.
 * Host, container and process metrics every 10 s to a Prometheus endpoint on loopback and
 * a CSV file in the working directory.
 *
 * The Prometheus exporter forgets a series after 30 s without a point (three collection
 * intervals) rather than its default 5 minutes: the process receiver reports only the top
 * 20 processes, and a process that leaves the top stops being reported. With 5 minutes the
 * exporter kept exposing the last values of every process that had been in the top in the
 * last 5 to 10 minutes (it sweeps once per expiration time), and held their series in memory:
 * on a busy host, where the top changes at every scrape, that was most of the default run's
 * heap growth (docs/performance.md, "Memory of the node agent").
 */
export const DEFAULT_CONFIG = `
receivers:
  procfs:
    collection_interval: 10s
  cgroups:
    collection_interval: 10s
  process:
    collection_interval: 10s
    top:
      cpu: 20
      memory: 20
exporters:
  prometheus:
    endpoint: 127.0.0.1:9464
    metric_expiration: 30s
  csv:
    path: ./inframeter-metrics.csv
service:
  telemetry:
    metrics:
      address: 127.0.0.1:8888
  pipelines:
    metrics:
      receivers: [procfs, cgroups, process]
      exporters: [prometheus, csv]
`;
