{{- define "lattice-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lattice-gateway.fullname" -}}
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

{{- define "lattice-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lattice-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lattice-gateway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "lattice-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "lattice-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lattice-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
webhookActive is "true" when the pod readiness-gate webhook is enabled and has a certificate:
issued by cert-manager, or given in webhookTLS.cert/key.
*/}}
{{- define "lattice-gateway.webhookActive" -}}
{{- $tls := .Values.webhookTLS | default dict -}}
{{- $cm := $tls.certManager | default dict -}}
{{- if and .Values.webhookEnabled (or $cm.enabled (and $tls.cert $tls.key)) -}}true{{- end -}}
{{- end }}

{{- define "lattice-gateway.webhookSecretName" -}}
{{- $tls := .Values.webhookTLS | default dict -}}
{{- $cm := $tls.certManager | default dict -}}
{{- $cm.certificateSecretName | default "webhook-cert" -}}
{{- end }}
