{{/* The release's full name, at most 63 characters. */}}
{{- define "skylark.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "skylark.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
app.kubernetes.io/part-of: skylark
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
{{- end -}}

{{- define "skylark.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "skylark.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "skylark.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "skylark.operatorImage" -}}
{{- printf "%s:%s" .Values.operator.image.repository (default .Chart.AppVersion .Values.operator.image.tag) -}}
{{- end -}}

{{- define "skylark.nameserverName" -}}
{{- printf "%s-nameserver" (include "skylark.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* namesrvAddr: every nameserver pod through the headless Service, `;`-separated. */}}
{{- define "skylark.namesrvAddr" -}}
{{- $name := include "skylark.nameserverName" . -}}
{{- $addrs := list -}}
{{- range $i := until (int .Values.nameserver.replicas) -}}
{{- $addrs = append $addrs (printf "%s-%d.%s.%s.svc:%d" $name $i $name $.Release.Namespace (int $.Values.nameserver.port)) -}}
{{- end -}}
{{- join ";" $addrs -}}
{{- end -}}
