{{/*
Application name (app.kubernetes.io/name, container name): the release name, i.e. the service
(api-gateway, user-service), since this one chart deploys several different applications.
*/}}
{{- define "nos-service.name" -}}
{{- default .Release.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of every resource. The release name alone (api-gateway, user-service) unless overridden:
the Service name is the DNS name other services use (USER_SERVICE_URL=http://user-service:8081).
*/}}
{{- define "nos-service.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
Image tag: image.tag, or the chart appVersion.
*/}}
{{- define "nos-service.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/*
Selector labels: stable for the life of a release (a Deployment selector is immutable).
*/}}
{{- define "nos-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nos-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Standard labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
*/}}
{{- define "nos-service.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "nos-service.selectorLabels" . }}
app.kubernetes.io/version: {{ include "nos-service.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: service
app.kubernetes.io/part-of: node-observability-stack
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "nos-service.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nos-service.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
OTEL_RESOURCE_ATTRIBUTES: service.version from the image tag, the pod's identity from the downward API
(the $(VAR) references are expanded by the kubelet from the env vars declared before it), then the
user's extra attributes. Keys are sorted so the rendered value is stable.
*/}}
{{- define "nos-service.resourceAttributes" -}}
{{- $attrs := list (printf "service.version=%s" (include "nos-service.imageTag" .)) "k8s.pod.name=$(K8S_POD_NAME)" "k8s.namespace.name=$(K8S_NAMESPACE_NAME)" "k8s.node.name=$(K8S_NODE_NAME)" }}
{{- range $key := keys .Values.otel.resourceAttributes | sortAlpha }}
{{- $attrs = append $attrs (printf "%s=%s" $key (index $.Values.otel.resourceAttributes $key | toString)) }}
{{- end }}
{{- join "," $attrs }}
{{- end }}

{{/*
Checks that JSON schema cannot express (it cannot compare two values): the grace period must cover the
preStop sleep, the services' drain of in-flight requests (up to 10 s) and their telemetry flush (up to
5 s); otherwise the kubelet kills the container before it has drained and flushed.
*/}}
{{- define "nos-service.validate" -}}
{{- $needed := add (int .Values.preStopSleepSeconds) 15 }}
{{- if gt $needed (int .Values.terminationGracePeriodSeconds) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be at least preStopSleepSeconds (%d) + 15 (drain up to 10 s, telemetry flush up to 5 s) = %d" (int .Values.terminationGracePeriodSeconds) (int .Values.preStopSleepSeconds) $needed) }}
{{- end }}
{{- end }}
