{{/*
Names, labels and the values every template shares.
*/}}

{{/* Chart name, overridable. */}}
{{- define "sandbox.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of every object name: the release name, plus the chart name unless the release already contains it. */}}
{{- define "sandbox.fullname" -}}
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

{{/* chart label: name-version */}}
{{- define "sandbox.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of an object. Context: dict "root" $ "component" <name or "">.
*/}}
{{- define "sandbox.labels" -}}
helm.sh/chart: {{ include "sandbox.chart" .root }}
{{ include "sandbox.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Values.image.tag | default .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: microservices-sandbox
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: stable across upgrades, so never the chart version.
Context: dict "root" $ "component" <name or "">.
*/}}
{{- define "sandbox.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sandbox.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end }}

{{/* Name of a component's objects. Context: dict "root" $ "component" <name>. */}}
{{- define "sandbox.componentName" -}}
{{- printf "%s-%s" (include "sandbox.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The application image reference. */}}
{{- define "sandbox.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* Secret with the generated (or existing) passwords. */}}
{{- define "sandbox.credentialsSecret" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-credentials" (include "sandbox.fullname" .)) }}
{{- end }}

{{/*
Keys of the credentials Secret, as a JSON list: exactly what the templates read
from it (the first admin's email and password, each datastore's passwordKey).
The generated Secret has these keys, and a Secret of your own must have them.
*/}}
{{- define "sandbox.credentialKeys" -}}
{{- $keys := list "admin-email" "admin-password" }}
{{- range $name, $d := .Values.datastores }}
{{- $keys = append $keys $d.passwordKey }}
{{- end }}
{{- $keys | uniq | toJson }}
{{- end }}

{{/* Secret with the JWT signing key. */}}
{{- define "sandbox.jwtSecret" -}}
{{- .Values.jwt.existingSecret | default (printf "%s-jwt" (include "sandbox.fullname" .)) }}
{{- end }}

{{/* ConfigMap with the settings every process shares. */}}
{{- define "sandbox.configName" -}}
{{- printf "%s-config" (include "sandbox.fullname" .) }}
{{- end }}

{{/* Port a datastore listens on. Context: the engine name. */}}
{{- define "sandbox.datastorePort" -}}
{{- get (dict "postgres" 5432 "mongo" 27017 "redis" 6379) . }}
{{- end }}

{{/* Port its exporter serves /metrics on. Context: the engine name. */}}
{{- define "sandbox.exporterPort" -}}
{{- get (dict "postgres" 9187 "mongo" 9216 "redis" 9121) . }}
{{- end }}

{{/*
Environment of a sandbox process, derived from what it `uses`.
Passwords come from the credentials Secret and are spliced into the URLs with
Kubernetes' $(VAR) expansion, so no URL with a password is stored anywhere.
Context: dict "root" $ "c" <component values>.
*/}}
{{- define "sandbox.appEnv" -}}
{{- $root := .root }}
{{- $c := .c }}
{{- $full := include "sandbox.fullname" $root }}
{{- $secret := include "sandbox.credentialsSecret" $root }}
{{- $uses := $c.uses | default list }}
{{- if $c.port }}
- name: SANDBOX_PORT
  value: {{ $c.port | quote }}
{{- end }}
{{- if $c.metricsPort }}
- name: SANDBOX_METRICS_PORT
  value: {{ $c.metricsPort | quote }}
{{- end }}
{{- if has "redis" $uses }}
{{- $redis := index $root.Values.datastores "redis" }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $redis.passwordKey }}}
- name: SANDBOX_REDIS_URL
  value: "redis://:$(REDIS_PASSWORD)@{{ $full }}-redis:6379/0"
- name: SANDBOX_BROKER_URL
  value: "redis://:$(REDIS_PASSWORD)@{{ $full }}-redis:6379/1"
{{- end }}
{{- if has "postgres-user" $uses }}
{{- $db := index $root.Values.datastores "postgres-user" }}
- name: USER_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $db.passwordKey }}}
- name: SANDBOX_USER_DATABASE_URL
  value: "postgresql+psycopg://{{ $db.username }}:$(USER_DATABASE_PASSWORD)@{{ $full }}-postgres-user:5432/{{ $db.database }}"
{{- end }}
{{- if has "postgres-catalog" $uses }}
{{- $db := index $root.Values.datastores "postgres-catalog" }}
- name: CATALOG_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $db.passwordKey }}}
- name: SANDBOX_CATALOG_DATABASE_URL
  value: "postgresql+psycopg://{{ $db.username }}:$(CATALOG_DATABASE_PASSWORD)@{{ $full }}-postgres-catalog:5432/{{ $db.database }}"
{{- end }}
{{- if has "mongo" $uses }}
{{- $db := index $root.Values.datastores "mongo" }}
- name: MONGO_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $db.passwordKey }}}
- name: SANDBOX_MONGO_URL
  value: "mongodb://{{ $db.username }}:$(MONGO_PASSWORD)@{{ $full }}-mongo:27017/?authSource=admin"
- name: SANDBOX_MONGO_DATABASE
  value: {{ $db.database | quote }}
{{- end }}
{{- if has "user" $uses }}
- name: SANDBOX_USER_URL
  value: "http://{{ $full }}-user:{{ $root.Values.components.user.port }}"
{{- end }}
{{- if has "catalog" $uses }}
- name: SANDBOX_CATALOG_URL
  value: "http://{{ $full }}-catalog:{{ $root.Values.components.catalog.port }}"
{{- end }}
{{- if $c.signsTokens }}
- name: SANDBOX_JWT_PRIVATE_KEY_FILE
  value: "{{ $root.Values.jwt.mountPath }}/{{ $root.Values.jwt.key }}"
- name: SANDBOX_ADMIN_EMAIL
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: admin-email}
- name: SANDBOX_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: admin-password}
{{- end }}
{{- if $c.concurrency }}
- name: SANDBOX_WORKER_CONCURRENCY
  value: {{ $c.concurrency | quote }}
{{- end }}
{{- with $root.Values.app.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with $c.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Label selector of the pods of some components. Context: dict "root" $ "components" <list>. */}}
{{- define "sandbox.peerSelector" -}}
podSelector:
  matchLabels:
    app.kubernetes.io/name: {{ include "sandbox.name" .root }}
    app.kubernetes.io/instance: {{ .root.Release.Name }}
  matchExpressions:
    - key: app.kubernetes.io/component
      operator: In
      values:
        {{- toYaml (.components | uniq | sortAlpha) | nindent 8 }}
{{- end }}

{{/* Selector of a whole namespace by its name. Context: the namespace. */}}
{{- define "sandbox.namespaceSelector" -}}
namespaceSelector:
  matchLabels:
    kubernetes.io/metadata.name: {{ . }}
{{- end }}
