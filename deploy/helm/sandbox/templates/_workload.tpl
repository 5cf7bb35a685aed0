{{/*
The one workload template: every component (services, worker, beat,
datastores, exporters) is rendered by it, so they all get the same labels,
ServiceAccount, security context, checksum annotations, Service, PDB and HPA.

Context: dict with
  root             $
  component        name, e.g. "user" (objects are <fullname>-<component>)
  kind             Deployment (default) or StatefulSet
  replicas         replica count (ignored while an HPA is enabled)
  strategy         Deployment strategy type (default RollingUpdate)
  container        YAML of the main container, without securityContext (text, not a dict:
                   toYaml would write its keys sorted, `name` after `image` and `env`)
  config           true when its pods read the ConfigMap: a checksum annotation rolls them on a change
  initContainer    YAML of a container that runs to completion before the main one (optional)
  emptyDirs        list of dict name/sizeLimit: emptyDir volumes besides /tmp's, which every pod has
  signsTokens      true adds the volume `jwt`, the JWT signing key, which the container mounts
  volumeClaims     list of dict name/storage/storageClassName: the StatefulSet's
                   ReadWriteOnce volume claims (an empty storageClassName uses the cluster default)
  ports            list of dict name/port the Service exposes
  headless         true for a StatefulSet's governing Service
  podAnnotations   extra pod annotations
  podSecurityContext  overrides .Values.podSecurityContext (official datastore images run as their own uid)
  serviceLinks     false sets enableServiceLinks: false (no Docker-link variables of
                   every Service in the namespace, e.g. for Locust, which reads LOCUST_*)
  pdb              dict enabled/maxUnavailable
  autoscaling      dict enabled/minReplicas/maxReplicas/targetCPUUtilizationPercentage
*/}}
{{- define "sandbox.workload" -}}
{{- $root := .root }}
{{- $name := include "sandbox.componentName" (dict "root" $root "component" .component) }}
{{- $ctx := dict "root" $root "component" .component }}
{{- $kind := .kind | default "Deployment" }}
{{- $autoscaling := .autoscaling | default dict }}
{{- $pdb := .pdb | default dict }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "sandbox.labels" $ctx | nindent 4 }}
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: {{ $kind }}
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "sandbox.labels" $ctx | nindent 4 }}
spec:
  {{- if not $autoscaling.enabled }}
  replicas: {{ .replicas | default 1 }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "sandbox.selectorLabels" $ctx | nindent 6 }}
  {{- if eq $kind "StatefulSet" }}
  serviceName: {{ $name }}
  podManagementPolicy: OrderedReady
  updateStrategy:
    type: RollingUpdate
  {{- else }}
  strategy:
    type: {{ .strategy | default "RollingUpdate" }}
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "sandbox.selectorLabels" $ctx | nindent 8 }}
        app.kubernetes.io/part-of: microservices-sandbox
      annotations:
        {{- if .config }}
        {{- /* Only pods that read the ConfigMap roll when it changes: a log level must not restart a database. */}}
        checksum/config: {{ include (print $root.Template.BasePath "/config.yaml") $root | sha256sum }}
        {{- end }}
        {{- with .podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: false
      securityContext:
        {{- toYaml (.podSecurityContext | default $root.Values.podSecurityContext) | nindent 8 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
      {{- if eq (toString .serviceLinks) "false" }}
      enableServiceLinks: false
      {{- end }}
      {{- with .initContainer }}
      initContainers:
        - {{- . | trim | nindent 10 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
      {{- end }}
      containers:
        - {{- .container | trim | nindent 10 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- range .emptyDirs }}
        - name: {{ .name }}
          emptyDir:
            sizeLimit: {{ .sizeLimit }}
        {{- end }}
        {{- if .signsTokens }}
        - name: jwt
          secret:
            secretName: {{ include "sandbox.jwtSecret" $root }}
            defaultMode: 0440
            items:
              - key: {{ $root.Values.jwt.key }}
                path: {{ $root.Values.jwt.key }}
        {{- end }}
  {{- with .volumeClaims }}
  volumeClaimTemplates:
    {{- range . }}
    - metadata:
        name: {{ .name }}
      spec:
        accessModes: ["ReadWriteOnce"]
        {{- with .storageClassName }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ .storage }}
    {{- end }}
  {{- end }}
{{- if .ports }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "sandbox.labels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  {{- if .headless }}
  clusterIP: None
  {{- end }}
  selector:
    {{- include "sandbox.selectorLabels" $ctx | nindent 4 }}
  ports:
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- if $pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "sandbox.labels" $ctx | nindent 4 }}
spec:
  maxUnavailable: {{ $pdb.maxUnavailable | default 1 }}
  selector:
    matchLabels:
      {{- include "sandbox.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- if $autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "sandbox.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: {{ $kind }}
    name: {{ $name }}
  minReplicas: {{ $autoscaling.minReplicas }}
  maxReplicas: {{ $autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end }}

{{/*
Probes on a named port: startup and liveness on /healthz, readiness on /readyz.
Context: dict "root" $ "port" <port name>.
*/}}
{{- define "sandbox.httpProbes" -}}
{{- $p := .root.Values.probes }}
startupProbe:
  httpGet: {path: /healthz, port: {{ .port }}}
  periodSeconds: {{ $p.startupPeriodSeconds }}
  failureThreshold: {{ $p.startupFailureThreshold }}
  timeoutSeconds: {{ $p.timeoutSeconds }}
livenessProbe:
  httpGet: {path: /healthz, port: {{ .port }}}
  periodSeconds: {{ $p.livenessPeriodSeconds }}
  failureThreshold: 3
  timeoutSeconds: {{ $p.timeoutSeconds }}
readinessProbe:
  httpGet: {path: /readyz, port: {{ .port }}}
  periodSeconds: {{ $p.readinessPeriodSeconds }}
  failureThreshold: 2
  timeoutSeconds: {{ $p.timeoutSeconds }}
{{- end }}
