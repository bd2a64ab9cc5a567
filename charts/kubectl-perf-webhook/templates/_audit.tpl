{{/* The audit CronJob's labels: a name of its own, so the webhook's PDB, NetworkPolicy
     and Service never select its pods. */}}
{{- define "perf.auditSelectorLabels" -}}
app.kubernetes.io/name: {{ include "perf.name" . }}-audit
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: audit
{{- end -}}

{{- define "perf.auditLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "perf.auditSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}


{{/* The rightsize CronJob's labels: a name of its own too (see perf.auditSelectorLabels). */}}
{{- define "perf.rightsizeSelectorLabels" -}}
app.kubernetes.io/name: {{ include "perf.name" . }}-rightsize
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: rightsize
{{- end -}}

{{- define "perf.rightsizeLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "perf.rightsizeSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Where the rightsize history volume is mounted, and the file in it. */}}
{{- define "perf.rightsizeHistoryDir" -}}/var/lib/kubectl-perf/rightsize{{- end -}}

{{- define "perf.rightsizeClaim" -}}
{{- .Values.rightsize.persistence.existingClaim | default (printf "%s-rightsize" (include "perf.fullname" .)) -}}
{{- end -}}
