{{- define "perf.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "perf.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "perf.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "perf.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "perf.selectorLabels" -}}
app.kubernetes.io/name: {{ include "perf.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The Secret holding tls.crt and tls.key: the user's in tls.mode secret. */}}
{{- define "perf.tlsSecret" -}}
{{- if eq .Values.tls.mode "secret" -}}
{{ .Values.tls.secret.name }}
{{- else -}}
{{ include "perf.fullname" . }}-tls
{{- end -}}
{{- end -}}

{{/* The DNS names the API server may use for the service: SANs, not just a CN. */}}
{{- define "perf.dnsNames" -}}
{{- $svc := include "perf.fullname" . -}}
{{- list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace) | toJson -}}
{{- end -}}

{{- define "perf.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The Kubernetes version rendered for: kubeVersion, else what Helm reports. */}}
{{- define "perf.kubeVersion" -}}
{{- .Values.kubeVersion | default .Capabilities.KubeVersion.Version -}}
{{- end -}}

{{/* "true" on Kubernetes >= 1.30: matchConditions GA, preStop sleep action on by default. */}}
{{- define "perf.atLeast130" -}}
{{- if semverCompare ">=1.30-0" (include "perf.kubeVersion" .) -}}true{{- end -}}
{{- end -}}

{{/* Namespaces the webhook never judges: its own dependencies first. */}}
{{- define "perf.excludedNamespaces" -}}
{{- $ns := list "kube-system" .Release.Namespace -}}
{{- if eq .Values.tls.mode "certManager" -}}
{{- $ns = append $ns .Values.tls.certManager.namespace -}}
{{- end -}}
{{- concat $ns .Values.webhook.excludeNamespaces | uniq | toJson -}}
{{- end -}}

{{/* A duration the schema allows (e.g. 2160h, 90m, 1h30m0s) in seconds. */}}
{{- define "perf.seconds" -}}
{{- $h := regexFind "[0-9]+h" . | trimSuffix "h" | default "0" | atoi -}}
{{- $m := regexFind "[0-9]+m" . | trimSuffix "m" | default "0" | atoi -}}
{{- $s := regexFind "[0-9]+s" . | trimSuffix "s" | default "0" | atoi -}}
{{- add (mul $h 3600) (mul $m 60) $s -}}
{{- end -}}

{{/* Checks that relate one value to another, which values.schema.json cannot express. */}}
{{- define "perf.validate" -}}
{{- $cm := .Values.tls.certManager -}}
{{- $caDur := include "perf.seconds" $cm.ca.duration | atoi -}}
{{- $caRenew := include "perf.seconds" $cm.ca.renewBefore | atoi -}}
{{- $svDur := include "perf.seconds" $cm.serving.duration | atoi -}}
{{- $svRenew := include "perf.seconds" $cm.serving.renewBefore | atoi -}}
{{- if ge $caRenew $caDur -}}
{{- fail (printf "tls.certManager.ca.renewBefore (%s) must be shorter than tls.certManager.ca.duration (%s)" $cm.ca.renewBefore $cm.ca.duration) -}}
{{- end -}}
{{- if ge $svRenew $svDur -}}
{{- fail (printf "tls.certManager.serving.renewBefore (%s) must be shorter than tls.certManager.serving.duration (%s)" $cm.serving.renewBefore $cm.serving.duration) -}}
{{- end -}}
{{- if lt $caRenew $svDur -}}
{{- fail (printf "tls.certManager.ca.renewBefore (%s) must be at least tls.certManager.serving.duration (%s): the serving certificate, and the CA injected with it, must move to a renewed CA before the old one expires" $cm.ca.renewBefore $cm.serving.duration) -}}
{{- end -}}
{{- if eq .Values.tls.mode "secret" -}}
{{- if not (hasPrefix "-----BEGIN CERTIFICATE-----" (b64dec .Values.tls.secret.caBundle | trim)) -}}
{{- fail "tls.secret.caBundle must be a base64-encoded PEM certificate (bundle)" -}}
{{- end -}}
{{- end -}}
{{- $np := .Values.networkPolicy -}}
{{- if and $np.enabled (not $np.apiServer.cidrs) (not $np.apiServer.peers) -}}
{{- fail "networkPolicy.enabled needs the API server's addresses: set networkPolicy.apiServer.cidrs (e.g. the control-plane subnet) or networkPolicy.apiServer.peers; a policy open to every source would let any pod reach the webhook port" -}}
{{- end -}}
{{- if and (eq .Release.Namespace "default") (or .Release.IsInstall .Release.IsUpgrade) (not .Values.allowDefaultNamespace) -}}
{{- fail "install into a namespace of its own (helm install -n perf-system --create-namespace): the release's namespace is never judged, so in default every pod created there would pass unchecked (allowDefaultNamespace=true to do it anyway)" -}}
{{- end -}}
{{- $pdb := .Values.podDisruptionBudget | default dict -}}
{{- if and (hasKey $pdb "minAvailable") (hasKey $pdb "maxUnavailable") -}}
{{- fail "podDisruptionBudget: set one of minAvailable and maxUnavailable (to use minAvailable, set maxUnavailable to null)" -}}
{{- end -}}
{{- if and $pdb.enabled (hasKey $pdb "minAvailable") (not (kindIs "string" $pdb.minAvailable)) -}}
{{- if ge (int $pdb.minAvailable) (int .Values.replicaCount) -}}
{{- fail (printf "podDisruptionBudget.minAvailable (%v) must be below replicaCount (%v), or no node could ever be drained" $pdb.minAvailable .Values.replicaCount) -}}
{{- end -}}
{{- end -}}
{{- end -}}
