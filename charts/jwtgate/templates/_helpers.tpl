{{/* Names, labels and the pieces every jwtgate pod shares. */}}

{{/*
The prefix of every object's name: the release name, or "<release>-jwtgate" when the release name
does not already say jwtgate (so `helm install jwtgate` gives jwtgate-operator, jwtgate-authz).
*/}}
{{- define "jwtgate.fullname" -}}
{{- if contains "jwtgate" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-jwtgate" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selector labels of one component; call with (list $ "operator"). */}}
{{- define "jwtgate.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: jwtgate
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Every object's labels; call with (list $ "operator"). */}}
{{- define "jwtgate.labels" -}}
{{- $ := index . 0 -}}
{{ include "jwtgate.selectorLabels" . }}
app.kubernetes.io/part-of: jwtgate
app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $.Chart.Name $.Chart.Version }}
{{- end -}}

{{- define "jwtgate.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/*
The authz container, shared by the central Deployment and the sidecar snippet so both run
exactly the same thing. It reads the snapshot the operator publishes in the release namespace
(passed explicitly: in a sidecar, POD_NAMESPACE would be the workload's namespace).
As a sidecar it also knows its workload (JWTPolicy workloadSelector): the pod's labels from the
downward API file (the jwtgate-podinfo volume of the snippet) and POD_NAMESPACE.
*/}}
{{- define "jwtgate.authzContainer" -}}
{{- $sidecar := eq .Values.authz.mode "sidecar" -}}
name: jwtgate-authz
image: {{ include "jwtgate.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
args: [serve, --kube, --namespace, {{ .Release.Namespace }}{{ if $sidecar }}, --workload-labels, /etc/podinfo/labels{{ end }}]
env:
  {{- if $sidecar }}
  - { name: POD_NAMESPACE, valueFrom: { fieldRef: { fieldPath: metadata.namespace } } }
  {{- end }}
  - { name: JWTGATE_GRPC_PORT, value: {{ .Values.authz.grpcPort | quote }} }
  - { name: JWTGATE_HTTP_PORT, value: {{ .Values.authz.httpPort | quote }} }
  - { name: JWTGATE_LOG_LEVEL, value: {{ .Values.logLevel | quote }} }
  {{- range $name, $value := .Values.authz.env }}
  - { name: {{ $name }}, value: {{ $value | toString | quote }} }
  {{- end }}
# Prefixed port and volume names: in a sidecar they share the pod with the workload's own.
ports:
  - { name: authz-grpc, containerPort: {{ .Values.authz.grpcPort }}, protocol: TCP }
  - { name: authz-metrics, containerPort: {{ .Values.authz.httpPort }}, protocol: TCP }
# Live = the process answers; ready = a verified snapshot is enforced (until then Envoy must not
# be sent here: fail closed would deny everything).
livenessProbe:
  httpGet: { path: /healthz, port: authz-metrics }
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet: { path: /readyz, port: authz-metrics }
  periodSeconds: 5
  failureThreshold: 2
resources:
  {{- toYaml .Values.authz.resources | nindent 2 }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - { name: jwtgate-tmp, mountPath: /tmp }
  {{- if $sidecar }}
  - { name: jwtgate-podinfo, mountPath: /etc/podinfo, readOnly: true }
  {{- end }}
{{- end -}}


{{/* The scratch /tmp every jwtgate container mounts (the root filesystem is read-only). */}}
{{- define "jwtgate.tmpVolume" -}}
- { name: jwtgate-tmp, emptyDir: { sizeLimit: 16Mi } }
{{- end -}}
