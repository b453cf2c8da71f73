{{/* The router's pod template, shared by the StatefulSet (embedded) and the Deployment (redis). */}}
{{- define "switchboard.podTemplate" -}}
{{- $redis := eq .Values.store.kind "redis" -}}
{{- $grpcTls := .Values.router.grpc.tls | default dict -}}
metadata:
  labels:
    {{- include "switchboard.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Config and secrets are read at startup: a change rolls the pods.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "switchboard.serviceAccountName" . }}
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    runAsGroup: 10001
    fsGroup: 10001
    fsGroupChangePolicy: OnRootMismatch
    seccompProfile:
      type: RuntimeDefault
  {{- if $redis }}
  initContainers:
    - name: render-config
      image: {{ include "switchboard.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command:
        - /bin/sh
        - /etc/switchboard/config/render-config.sh
        - /etc/switchboard/config/switchboard.yaml
        - /etc/switchboard/rendered/switchboard.yaml
      env:
        - name: SWITCHBOARD_REDIS_URL
          valueFrom:
            secretKeyRef:
              name: {{ include "switchboard.redisSecretName" . }}
              key: {{ include "switchboard.redisSecretKey" . }}
      securityContext:
        {{- include "switchboard.containerSecurityContext" . | nindent 8 }}
      resources:
        requests: { cpu: 10m, memory: 16Mi }
        limits: { memory: 32Mi }
      volumeMounts:
        - { name: config, mountPath: /etc/switchboard/config, readOnly: true }
        - { name: rendered, mountPath: /etc/switchboard/rendered }
  {{- end }}
  containers:
    - name: switchboard
      image: {{ include "switchboard.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command:
        - switchboard
        - --config
        - {{ ternary "/etc/switchboard/rendered/switchboard.yaml" "/etc/switchboard/config/switchboard.yaml" $redis }}
      ports:
        - name: http
          containerPort: {{ .Values.router.http.port }}
          protocol: TCP
        - name: grpc
          containerPort: {{ .Values.router.grpc.port }}
          protocol: TCP
      {{- with .Values.probes.startup }}
      startupProbe:
        httpGet: { path: /healthz, port: http }
        {{- toYaml . | nindent 8 }}
      {{- end }}
      livenessProbe:
        httpGet: { path: /healthz, port: http }
        {{- toYaml .Values.probes.liveness | nindent 8 }}
      readinessProbe:
        # Not ready while the store is unavailable: the Service stops sending webhooks here.
        httpGet: { path: /readyz, port: http }
        {{- toYaml .Values.probes.readiness | nindent 8 }}
      lifecycle:
        preStop:
          # Endpoints drop this pod before SIGTERM starts the router's 10 s drain.
          exec:
            command: [sleep, {{ .Values.preStopSleepSeconds | quote }}]
      securityContext:
        {{- include "switchboard.containerSecurityContext" . | nindent 8 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      volumeMounts:
        - { name: config, mountPath: /etc/switchboard/config, readOnly: true }
        - { name: secrets, mountPath: /etc/switchboard/secrets, readOnly: true }
        - { name: tmp, mountPath: /tmp }
        {{- if $grpcTls.secretName }}
        - { name: grpc-tls, mountPath: /etc/switchboard/grpc-tls, readOnly: true }
        {{- end }}
        {{- if $redis }}
        - { name: rendered, mountPath: /etc/switchboard/rendered, readOnly: true }
        {{- else }}
        - { name: data, mountPath: /var/lib/switchboard }
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "switchboard.fullname" . }}
    - name: secrets
      secret:
        secretName: {{ include "switchboard.secretName" . }}
        defaultMode: 0440
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- with $grpcTls.secretName }}
    - name: grpc-tls
      secret:
        secretName: {{ . }}
        defaultMode: 0440
    {{- end }}
    {{- if $redis }}
    - name: rendered
      emptyDir:
        medium: Memory
        sizeLimit: 1Mi
    {{- end }}
  {{- if .Values.topologySpread.enabled }}
  topologySpreadConstraints:
    {{- range .Values.topologySpread.topologyKeys }}
    - maxSkew: {{ $.Values.topologySpread.maxSkew }}
      topologyKey: {{ . }}
      whenUnsatisfiable: {{ $.Values.topologySpread.whenUnsatisfiable }}
      labelSelector:
        matchLabels:
          {{- include "switchboard.selectorLabels" $ | nindent 10 }}
    {{- end }}
  {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{- define "switchboard.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}
