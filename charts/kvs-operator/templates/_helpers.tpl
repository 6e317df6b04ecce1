{{/* Chart name, shortened to the 63 characters a label value may have. */}}
{{- define "kvs-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: the release name alone when it already
contains the chart name, else "<release>-<chart>".
*/}}
{{- define "kvs-operator.fullname" -}}
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

{{- define "kvs-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kvs-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kvs-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kvs-operator.labels" -}}
helm.sh/chart: {{ include "kvs-operator.chart" . }}
{{ include "kvs-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "kvs-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kvs-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kvs-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The watched namespaces, de-duplicated, in the order given. */}}
{{- define "kvs-operator.watchNamespaces" -}}
{{- .Values.watchNamespaces | uniq | join "," }}
{{- end }}

{{/*
Rules on VideoStreams, SignalingChannels and Events, shared by the ClusterRole
(all namespaces) and the Roles of namespaced mode: exactly the calls the operator
makes, as the API server's audit log of the operator running under this chart
records them (tests/e2e/node/rbac.rs). It watches each kind (list, watch), adds
and removes its finalizer with a merge patch, writes status with server-side
apply (a patch), and records Events, patching a repeated one into a series.
With exports.enabled it writes the ConfigMaps spec.exportTo names: created, kept
current with a guarded (test-then-write) JSON patch, deleted; never read (no get,
list or watch), and narrowed to its own exports by the policy in exports.yaml.
*/}}
{{- define "kvs-operator.rules" -}}
- apiGroups: ["kvs-operator.dev"]
  resources: ["videostreams", "signalingchannels"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["kvs-operator.dev"]
  resources: ["videostreams/status", "signalingchannels/status"]
  verbs: ["patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.exports.enabled }}
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "patch", "delete"]
{{- end }}
{{- end }}

{{/*
Cluster-scoped rules, granted by a ClusterRole in every mode: AccountBindings are
cluster-scoped (watched, their finalizer patched, status applied), namespaces are
watched for binding selectors and kube-system's is read for its UID, the default
cluster id. Audit-derived like the rules above.
*/}}
{{- define "kvs-operator.clusterRules" -}}
- apiGroups: ["kvs-operator.dev"]
  resources: ["accountbindings"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["kvs-operator.dev"]
  resources: ["accountbindings/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get", "list", "watch"]
{{- end }}

{{/*
The label matchers that pick this release's operator out of everything Prometheus
scrapes: metrics.prometheusRule.selector, or else the labels its series get through the
chart's ServiceMonitor (job is the metrics Service's name).
*/}}
{{- define "kvs-operator.ruleSelector" -}}
{{- with .Values.metrics.prometheusRule.selector }}
{{- . }}
{{- else }}
{{- printf "job=%q,namespace=%q" (printf "%s-metrics" (include "kvs-operator.fullname" .)) .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
Fails rendering on combinations of values: the first is values.schema.json's too, kept
here for `--skip-schema-validation`; the schema cannot say the second clearly.
*/}}
{{- define "kvs-operator.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount > 1 needs leaderElection.enabled=true: without it every replica would reconcile the same VideoStreams" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.service.enabled) }}
{{- fail "metrics.serviceMonitor.enabled=true needs metrics.service.enabled=true: the ServiceMonitor selects that Service" }}
{{- end }}
{{- end }}
