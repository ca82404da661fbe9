{{/* Chart name. */}}
{{- define "inframeter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Resource name prefix: release-chart, or the release name when it already holds the chart name. */}}
{{- define "inframeter.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "inframeter.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels on every resource. */}}
{{- define "inframeter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "inframeter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one role; call with (dict "root" $ "role" "agent"). */}}
{{- define "inframeter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "inframeter.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{/* The agents' pod selector as a label selector string (`kubectl -l`). */}}
{{- define "inframeter.agentSelector" -}}
app.kubernetes.io/name={{ include "inframeter.name" . }},app.kubernetes.io/instance={{ .Release.Name }},app.kubernetes.io/component=agent
{{- end -}}

{{- define "inframeter.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{/* The gateway Service's DNS name. */}}
{{- define "inframeter.gatewayHost" -}}
{{ include "inframeter.fullname" . }}-gateway.{{ .Release.Namespace }}.svc
{{- end -}}

{{/* Environment variables from existing Secrets: a list of {name, secretName, key}. */}}
{{- define "inframeter.secretEnv" -}}
{{- range . }}
- name: {{ required "secretEnv[].name is required" .name }}
  valueFrom:
    secretKeyRef:
      name: {{ required (printf "secretEnv %s: secretName (an existing Secret) is required" .name) .secretName }}
      key: {{ required (printf "secretEnv %s: key is required" .name) .key }}
{{- end }}
{{- end -}}

{{/* The agent's collector configuration. */}}
{{- define "inframeter.agentConfig" -}}
{{- if .Values.agent.config -}}
{{ toYaml .Values.agent.config }}
{{- else -}}
{{- $a := .Values.agent -}}
{{- $receivers := list -}}
{{- $exporters := list -}}
receivers:
  {{- if $a.receivers.procfs.enabled }}
  {{- $receivers = append $receivers "procfs" }}
  procfs:
    root_path: /host
    collection_interval: {{ $a.collectionInterval }}
  {{- end }}
  {{- if $a.receivers.cgroups.enabled }}
  {{- $receivers = append $receivers "cgroups" }}
  cgroups:
    root_path: /host
    collection_interval: {{ $a.collectionInterval }}
    {{- if not $a.receivers.cgroups.network }}
    groups:
      network: { enabled: false }
    {{- end }}
    {{- if $a.receivers.cgroups.kubernetes }}
    kubernetes:
      enabled: true
      node_name: ${env:K8S_NODE_NAME}
    {{- end }}
  {{- end }}
  {{- if $a.receivers.process.enabled }}
  {{- $receivers = append $receivers "process" }}
  process:
    root_path: /host
    collection_interval: {{ $a.collectionInterval }}
    top:
      cpu: {{ $a.receivers.process.topN }}
      memory: {{ $a.receivers.process.topN }}
  {{- end }}
  {{- $kv := $a.receivers.kubevirt }}
  {{- if $kv.enabled }}
  {{- $receivers = append $receivers "kubevirt" }}
  kubevirt:
    node_name: ${env:K8S_NODE_NAME}
    root_path: /host
    collection_interval: {{ $kv.collectionInterval }}
    {{- with $kv.namespaces }}
    namespaces: {{ toJson . }}
    {{- end }}
    libvirt:
      enabled: {{ $kv.libvirt.enabled }}
  {{- end }}
  {{- $kl := $a.receivers.kubevirtLogs }}
  {{- if $kl.enabled }}
  kubevirt_logs:
    node_name: ${env:K8S_NODE_NAME}
    directory: /var/lib/inframeter/vm-logs
    interval: {{ $kl.interval }}
    {{- with $kl.namespaces }}
    namespaces: {{ toJson . }}
    {{- end }}
    virt_handler:
      namespace: {{ $kl.kubevirtNamespace }}
    files:
      max_file_size: {{ $kl.maxFileSize }}
      max_files: {{ $kl.maxFiles }}
  {{- end }}
{{- if not $receivers }}
{{- fail "agent: enable at least one of agent.receivers.procfs, cgroups, process, kubevirt" }}
{{- end }}
processors:
  resource: {}
  batch: {}
{{- if .Values.experiments.enabled }}
extensions:
  experiments:
    endpoint: 0.0.0.0:{{ .Values.experiments.port }}
    bearer_token: ${env:INFRAMETER_TOKEN}
    directory: /var/lib/inframeter/experiments
{{- end }}
exporters:
  {{- if $a.exportToGateway }}
  {{- $exporters = append $exporters "otlp" }}
  otlp:
    {{- if .Values.tls.enabled }}
    endpoint: https://{{ include "inframeter.gatewayHost" . }}:{{ .Values.gateway.otlp.grpcPort }}
    protocol: grpc
    tls:
      ca_file: /etc/inframeter/tls/ca.crt
      {{- if .Values.tls.mutual }}
      cert_file: /etc/inframeter/tls/tls.crt
      key_file: /etc/inframeter/tls/tls.key
      {{- end }}
      {{- with .Values.tls.serverName }}
      server_name_override: {{ . }}
      {{- end }}
    {{- else }}
    endpoint: http://{{ include "inframeter.gatewayHost" . }}:{{ .Values.gateway.otlp.grpcPort }}
    protocol: grpc
    {{- end }}
  {{- end }}
  {{- if $a.prometheus.enabled }}
  {{- $exporters = append $exporters "prometheus" }}
  prometheus:
    endpoint: 0.0.0.0:{{ $a.prometheus.port }}
  {{- end }}
  {{- if and $kl.enabled $kl.otlpEndpoint }}
  otlp/logs:
    endpoint: {{ $kl.otlpEndpoint }}
    protocol: grpc
  {{- end }}
{{- if not $exporters }}
{{- fail "agent: set agent.exportToGateway or agent.prometheus.enabled, or the agent's data goes nowhere" }}
{{- end }}
service:
  {{- if .Values.experiments.enabled }}
  extensions: [experiments]
  {{- end }}
  telemetry:
    logs:
      level: {{ .Values.logLevel }}
    metrics:
      address: 0.0.0.0:{{ $a.telemetryPort }}
  pipelines:
    metrics:
      receivers: {{ toJson $receivers }}
      processors: ["resource", "batch"]
      exporters: {{ toJson $exporters }}
    {{- if and $kl.enabled $kl.otlpEndpoint }}
    logs:
      receivers: ["kubevirt_logs"]
      exporters: ["otlp/logs"]
    {{- end }}
{{- end -}}
{{- end -}}

{{/* The gateway's collector configuration. */}}
{{- define "inframeter.gatewayConfig" -}}
{{- if .Values.gateway.config -}}
{{ toYaml .Values.gateway.config }}
{{- else -}}
{{- $g := .Values.gateway -}}
{{- $receivers := list "otlp" -}}
{{- $exporters := list -}}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:{{ $g.otlp.grpcPort }}
        {{- include "inframeter.gatewayTls" . | nindent 8 }}
      http:
        endpoint: 0.0.0.0:{{ $g.otlp.httpPort }}
        {{- include "inframeter.gatewayTls" . | nindent 8 }}
  {{- range $type := list "snmp" "ipmi" "wattmetre" }}
  {{- $r := index $g.outOfBand $type }}
  {{- if $r.enabled }}
  {{- if not $r.config }}
  {{- fail (printf "gateway.outOfBand.%s.config is required when gateway.outOfBand.%s.enabled" $type $type) }}
  {{- end }}
  {{- $receivers = append $receivers $type }}
  {{ $type }}:
    {{- toYaml $r.config | nindent 4 }}
  {{- end }}
  {{- end }}
processors:
  batch: {}
exporters:
  {{- if $g.prometheus.enabled }}
  {{- $exporters = append $exporters "prometheus" }}
  prometheus:
    endpoint: 0.0.0.0:{{ $g.prometheus.port }}
  {{- end }}
  {{- if $g.remoteWrite.enabled }}
  {{- $exporters = append $exporters "prometheusremotewrite" }}
  prometheusremotewrite:
    endpoint: {{ required "gateway.remoteWrite.endpoint is required when gateway.remoteWrite.enabled" $g.remoteWrite.endpoint }}
    {{- if $g.remoteWrite.credentialsSecret }}
    auth:
      {{- if eq $g.remoteWrite.auth "basic" }}
      basic_auth:
        username: ${env:REMOTE_WRITE_USERNAME}
        password: ${env:REMOTE_WRITE_PASSWORD}
      {{- else }}
      bearer_token: ${env:REMOTE_WRITE_TOKEN}
      {{- end }}
    {{- end }}
    {{- with $g.remoteWrite.externalLabels }}
    external_labels:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    sending_queue:
      storage: file
      directory: /var/lib/inframeter/queue/prometheusremotewrite
  {{- end }}
  {{- if $g.otlpExporter.enabled }}
  {{- $exporters = append $exporters "otlp" }}
  otlp:
    endpoint: {{ required "gateway.otlpExporter.endpoint is required when gateway.otlpExporter.enabled" $g.otlpExporter.endpoint }}
    protocol: {{ $g.otlpExporter.protocol }}
    {{- if $g.otlpExporter.tokenSecret }}
    headers:
      authorization: Bearer ${env:OTLP_TOKEN}
    {{- end }}
    sending_queue:
      storage: file
      directory: /var/lib/inframeter/queue/otlp
  {{- end }}
  {{- if $g.postgresqlExporter.enabled }}
  {{- $exporters = append $exporters "postgresql" }}
  postgresql:
    db_host: {{ required "gateway.postgresqlExporter.host is required when gateway.postgresqlExporter.enabled" $g.postgresqlExporter.host | quote }}
    db_port: {{ $g.postgresqlExporter.port }}
    db_name: {{ $g.postgresqlExporter.database | quote }}
    db_user: {{ $g.postgresqlExporter.user | quote }}
    {{- if $g.postgresqlExporter.passwordSecret }}
    db_password: ${env:POSTGRESQL_PASSWORD}
    {{- end }}
    create_schema: {{ $g.postgresqlExporter.createSchema }}
    sending_queue:
      storage: file
      directory: /var/lib/inframeter/queue/postgresql
  {{- end }}
  {{- with $g.influxdbExporter }}
  {{- if .enabled }}
  {{- $exporters = append $exporters "influxdb" }}
  influxdb:
    endpoint: {{ required "gateway.influxdbExporter.endpoint is required when gateway.influxdbExporter.enabled" .endpoint }}
    api_version: {{ .apiVersion }}
    {{- if eq (int .apiVersion) 1 }}
    database: {{ required "gateway.influxdbExporter.database is required with apiVersion 1" .database | quote }}
    {{- if .username }}
    {{- $_ := required "gateway.influxdbExporter.credentialsSecret (key password) is required with a username" .credentialsSecret }}
    username: {{ .username | quote }}
    password: ${env:INFLUX_PASSWORD}
    {{- end }}
    {{- else }}
    org: {{ required "gateway.influxdbExporter.org is required with apiVersion 2" .org | quote }}
    bucket: {{ required "gateway.influxdbExporter.bucket is required with apiVersion 2" .bucket | quote }}
    {{- if .credentialsSecret }}
    token: ${env:INFLUX_TOKEN}
    {{- end }}
    {{- end }}
    schema: {{ .schema }}
    sending_queue:
      storage: file
      directory: /var/lib/inframeter/queue/influxdb
  {{- end }}
  {{- end }}
{{- if not $exporters }}
{{- fail "gateway: enable gateway.prometheus or one of the gateway's exporters (otlpExporter, remoteWrite, postgresqlExporter, influxdbExporter), or the gateway's data goes nowhere" }}
{{- end }}
{{- if .Values.experiments.enabled }}
{{- /* The gateway's control API forwards (/proxy/POD:PORT/…) to the Running agent pods of this
release it discovers through the Kubernetes API, and to nothing else. */}}
extensions:
  experiments:
    endpoint: 0.0.0.0:{{ .Values.experiments.port }}
    bearer_token: ${env:INFRAMETER_TOKEN}
    directory: /var/lib/inframeter/experiments
    proxy_discovery:
      kubernetes:
        namespace: {{ .Release.Namespace }}
        label_selector: {{ include "inframeter.agentSelector" . | quote }}
        port: {{ .Values.experiments.port }}
{{- end }}
service:
  {{- if .Values.experiments.enabled }}
  extensions: [experiments]
  {{- end }}
  telemetry:
    logs:
      level: {{ .Values.logLevel }}
    metrics:
      address: 0.0.0.0:{{ $g.telemetryPort }}
  pipelines:
    metrics:
      receivers: {{ toJson $receivers }}
      processors: ["batch"]
      exporters: {{ toJson $exporters }}
{{- end -}}
{{- end -}}

{{/* The gateway's OTLP server TLS settings (nothing without tls.enabled). */}}
{{- define "inframeter.gatewayTls" -}}
{{- if .Values.tls.enabled -}}
tls:
  cert_file: /etc/inframeter/tls/tls.crt
  key_file: /etc/inframeter/tls/tls.key
  {{- if .Values.tls.mutual }}
  client_ca_file: /etc/inframeter/tls/ca.crt
  {{- end }}
{{- end -}}
{{- end -}}

{{/* The Secret of the agents' TLS files. */}}
{{- define "inframeter.agentTlsSecret" -}}
{{- $name := .Values.tls.agentSecretName | default .Values.tls.secretName -}}
{{- required "tls.secretName (an existing Secret with tls.crt, tls.key and ca.crt) is required when tls.enabled" $name -}}
{{- end -}}

{{/* A restricted container securityContext. */}}
{{- define "inframeter.restricted" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
