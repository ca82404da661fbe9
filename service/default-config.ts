/**
 * The embedded default configuration: what `inframeter run` does with no `--config`.
 * Host, container and process metrics every 10 s to a Prometheus endpoint on loopback and
 * a CSV file in the working directory.
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
