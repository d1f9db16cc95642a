{{/*
Names and labels every object shares.
*/}}

{{/* The service's name: nameOverride, else the chart's name. */}}
{{- define "ms-base-chart.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Objects' names: fullnameOverride, else the release name when it is the service's name (Argo CD
names the release after the service), else `<release>-<name>`.
*/}}
{{- define "ms-base-chart.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "ms-base-chart.name" . }}
{{- if eq .Release.Name $name }}
{{- $name }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ms-base-chart.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* What selects the pods: the same in the Deployment's selector, its pods and the Service. */}}
{{- define "ms-base-chart.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ms-base-chart.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Every object's labels: the selector's, plus what describes the release. */}}
{{- define "ms-base-chart.labels" -}}
helm.sh/chart: {{ include "ms-base-chart.chart" . }}
{{ include "ms-base-chart.selectorLabels" . }}
{{- with .Values.image.tag }}
app.kubernetes.io/version: {{ . | toString | trunc 63 | trimSuffix "-" | trimSuffix "." | trimSuffix "_" | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The claim the pods mount when persistence is on. */}}
{{- define "ms-base-chart.claimName" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-data" (include "ms-base-chart.fullname" .)) }}
{{- end }}

{{/* The SealedSecrets' Secrets, when that part is on; else none. */}}
{{- define "ms-base-chart.secrets" -}}
{{- if .Values.sealedSecrets.enabled }}
{{- toJson .Values.sealedSecrets.secrets }}
{{- else }}
{{- toJson list }}
{{- end }}
{{- end }}

{{/* A Secret's volume name (volume names are DNS labels). */}}
{{- define "ms-base-chart.secretVolume" -}}
{{- printf "secret-%s" (replace "." "-" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Environment variables from a list (`{name, value}` / `{name, valueFrom}`) or a map (name to a
value, or to a valueFrom source); a map is listed by name.
*/}}
{{- define "ms-base-chart.env" -}}
{{- if kindIs "map" . }}
{{- range $name, $value := . }}
- name: {{ $name | quote }}
{{- if kindIs "map" $value }}
  valueFrom:
    {{- toYaml $value | nindent 4 }}
{{- else }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- else }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/* An HTTP probe from its values. */}}
{{- define "ms-base-chart.probe" -}}
httpGet:
  path: {{ .path | quote }}
  port: {{ .port }}
initialDelaySeconds: {{ .initialDelaySeconds }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
{{- end }}
