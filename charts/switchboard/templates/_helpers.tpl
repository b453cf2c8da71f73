{{/* Names and labels (the app.kubernetes.io/* recommended labels). */}}
{{- define "switchboard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "switchboard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "switchboard.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "switchboard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: switchboard
{{- end }}

{{- define "switchboard.labels" -}}
{{ include "switchboard.commonLabels" . }}
app.kubernetes.io/component: router
{{- end }}

{{- define "switchboard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchboard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: router
{{- end }}

{{- define "switchboard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "switchboard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "switchboard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret mounted at /etc/switchboard/secrets: the operator's or the chart's. */}}
{{- define "switchboard.secretName" -}}
{{- default (include "switchboard.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* Where the Redis URL comes from (redis mode). */}}
{{- define "switchboard.redisSecretName" -}}
{{- default (printf "%s-redis-url" (include "switchboard.fullname" .)) .Values.store.redis.existingSecret }}
{{- end }}

{{- define "switchboard.redisSecretKey" -}}
{{- if .Values.store.redis.existingSecret }}{{ .Values.store.redis.existingSecretKey }}{{ else }}redis-url{{ end }}
{{- end }}

{{/* The secret files a source, agent or admin token is read from, relative to the config. */}}
{{- define "switchboard.sourceSecretKey" -}}
{{- printf "source-%s.%s" .source .key }}
{{- end }}

{{/*
Cross-field rules that values.schema.json cannot state with a useful message. Included by every
template, so `helm template` and `helm install` fail before anything is applied.
*/}}
{{- define "switchboard.validate" -}}
{{- $v := .Values }}
{{- if eq $v.store.kind "embedded" }}
{{- if gt (int $v.replicaCount) 1 }}
{{- fail (printf "store.kind=embedded keeps one SQLite file with a single writer, so replicaCount must be 1 (got %d); use store.kind=redis to run several replicas" (int $v.replicaCount)) }}
{{- end }}
{{- if $v.autoscaling.enabled }}
{{- fail "autoscaling.enabled needs store.kind=redis: the embedded store runs exactly one replica" }}
{{- end }}
{{- if $v.redis.enabled }}
{{- fail "redis.enabled starts an in-chart Redis, which only store.kind=redis uses" }}
{{- end }}
{{- else }}
{{- $sources := 0 }}
{{- if $v.store.redis.url }}{{ $sources = add1 $sources }}{{ end }}
{{- if $v.store.redis.existingSecret }}{{ $sources = add1 $sources }}{{ end }}
{{- if $v.redis.enabled }}{{ $sources = add1 $sources }}{{ end }}
{{- if ne $sources 1 }}
{{- fail "store.kind=redis needs exactly one of store.redis.url, store.redis.existingSecret or redis.enabled (the in-chart trial Redis)" }}
{{- end }}
{{- if and $v.store.redis.url (not (regexMatch "^redis://" $v.store.redis.url)) }}
{{- fail "store.redis.url must start with redis://" }}
{{- end }}
{{- end }}
{{- with $v.router.grpc.tls }}
{{- if and .clientCaKey (not .secretName) }}
{{- fail "router.grpc.tls.clientCaKey names a key of router.grpc.tls.secretName, which is empty: set the Secret's name" }}
{{- end }}
{{- if has .clientCaKey (list "tls.crt" "tls.key") }}
{{- fail (printf "router.grpc.tls.clientCaKey must be the key of a CA certificate (e.g. ca.crt), not %s" .clientCaKey) }}
{{- end }}
{{- end }}
{{- if lt (int $v.terminationGracePeriodSeconds) (add (int $v.preStopSleepSeconds) 15) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be at least preStopSleepSeconds + 15 (%d): the router drains HTTP for up to 10 s after SIGTERM, then ends agent streams and closes the store" (int $v.terminationGracePeriodSeconds) (add (int $v.preStopSleepSeconds) 15)) }}
{{- end }}
{{- if not $v.existingSecret }}
{{- range $v.router.sources }}
{{- $name := .name }}
{{- range $key, $value := .credentials }}
{{- if not $value }}
{{- fail (printf "router.sources[%s].credentials.%s is empty: give the value, or set existingSecret" $name $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $v.router.agents }}
{{- if not .tokens }}
{{- fail (printf "router.agents[%s].tokens is empty: give at least one token, or set existingSecret" .name) }}
{{- end }}
{{- end }}
{{- range $v.router.adminTokens }}
{{- if not .token }}
{{- fail (printf "router.adminTokens[%s].token is empty: give the token, or set existingSecret" .name) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $v.tests.enabled $v.tests.source (not (include "switchboard.testSource" .)) }}
{{- fail (printf "tests.source %q is not a router.sources entry with provider standard-webhooks (the only kind whose webhooks the test can sign with what the router holds)" $v.tests.source) }}
{{- end }}
{{- end }}

{{/* One source entry as the router reads it: credentials become *_file references. */}}
{{- define "switchboard.sourceConfig" -}}
{{- $source := omit . "credentials" }}
{{- range $key, $_ := .credentials }}
{{- $_ := set $source (printf "%s_file" $key) (printf "../secrets/%s" (include "switchboard.sourceSecretKey" (dict "source" $source.name "key" $key))) }}
{{- end }}
{{- toYaml (list $source) }}
{{- end }}

{{/*
switchboard.yaml (README "Configuration"). Relative *_file paths resolve against the config's
folder: /etc/switchboard/config (or /etc/switchboard/rendered in redis mode) → /etc/switchboard/secrets.
The store block comes last: in redis mode the render-config init container appends `url`.
*/}}
{{- define "switchboard.config" -}}
{{- $r := .Values.router -}}
http:
  listen: {{ printf "0.0.0.0:%d" (int $r.http.port) | quote }}
  max_body: {{ $r.http.max_body | quote }}
grpc:
  listen: {{ printf "0.0.0.0:%d" (int $r.grpc.port) | quote }}
{{- with $r.grpc.tls }}{{ if .secretName }}
  # The Secret router.grpc.tls.secretName, mounted at /etc/switchboard/grpc-tls.
  tls:
    cert_file: "../grpc-tls/tls.crt"
    key_file: "../grpc-tls/tls.key"
    {{- if .clientCaKey }}
    client_ca_file: {{ printf "../grpc-tls/%s" .clientCaKey | quote }}
    {{- end }}
{{- end }}{{ end }}
{{- with $r.process }}
process:
  {{- toYaml . | nindent 2 }}
{{- end }}
dedupe:
  {{- toYaml $r.dedupe | nindent 2 }}
delivery:
  {{- toYaml $r.delivery | nindent 2 }}
{{- with $r.adminTokens }}
admin:
  tokens:
  {{- range . }}
    - name: {{ .name | quote }}
      token_file: {{ printf "../secrets/admin-%s.token" .name | quote }}
  {{- end }}
{{- end }}
{{- if $r.sources }}
sources:
{{- range $r.sources }}
{{ include "switchboard.sourceConfig" . }}
{{- end }}
{{- else }}
sources: []
{{- end }}
{{- if $r.agents }}
agents:
{{- range $r.agents }}
  - name: {{ .name | quote }}
    tokens_file: {{ printf "../secrets/agent-%s.tokens" .name | quote }}
{{- end }}
{{- else }}
agents: []
{{- end }}
{{- if $r.rules }}
rules:
{{- toYaml $r.rules | nindent 2 }}
{{- else }}
rules: []
{{- end }}
store:
  kind: {{ .Values.store.kind }}
{{- if eq .Values.store.kind "embedded" }}
  path: /var/lib/switchboard/switchboard.db
  sync: {{ .Values.store.embedded.sync }}
{{- end }}
{{- end }}

{{/* The source helm test signs for: tests.source, else the first standard-webhooks source. */}}
{{- define "switchboard.testSource" -}}
{{- $found := "" }}
{{- range .Values.router.sources }}
{{- if and (not $found) (eq .provider "standard-webhooks") (or (not $.Values.tests.source) (eq .name $.Values.tests.source)) }}
{{- $found = .name }}
{{- end }}
{{- end }}
{{- $found }}
{{- end }}

{{/* helm-test.yaml: the config switchboardctl signs with (only the test source). */}}
{{- define "switchboard.testConfig" -}}
{{- $name := include "switchboard.testSource" . -}}
dedupe:
  {{- toYaml .Values.router.dedupe | nindent 2 }}
sources:
{{- range .Values.router.sources }}
{{- if eq .name $name }}
{{ include "switchboard.sourceConfig" . }}
{{- end }}
{{- end }}
{{- end }}

{{- define "switchboard.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "switchboard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}
