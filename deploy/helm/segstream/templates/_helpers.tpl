{{/* Name of the chart, or nameOverride. */}}
{{- define "segstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name: release-chart, or fullnameOverride. */}}
{{- define "segstream.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "segstream.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "segstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "segstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "segstream.labels" -}}
helm.sh/chart: {{ include "segstream.chart" . }}
{{ include "segstream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: segstream
{{- end -}}

{{- define "segstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "segstream.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "segstream.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Where TLS Secrets are mounted. */}}
{{- define "segstream.kafkaTLSDir" -}}/etc/segstream/tls/kafka{{- end -}}
{{- define "segstream.redisTLSDir" -}}/etc/segstream/tls/redis{{- end -}}
{{- define "segstream.segmentsDir" -}}/etc/segstream/segments{{- end -}}

{{/* The tls block of the service config for a values block (kafka.tls or redis.tls). */}}
{{- define "segstream.tlsConfig" -}}
{{- $t := .tls -}}
{{- $c := dict "enabled" true -}}
{{- if $t.existingSecret -}}
{{- if $t.caKey }}{{ $_ := set $c "ca_file" (printf "%s/%s" .dir $t.caKey) }}{{ end -}}
{{- if and $t.certKey $t.keyKey -}}
{{- $_ := set $c "cert_file" (printf "%s/%s" .dir $t.certKey) -}}
{{- $_ := set $c "key_file" (printf "%s/%s" .dir $t.keyKey) -}}
{{- else if or $t.certKey $t.keyKey -}}
{{- fail (printf "%s.tls: certKey and keyKey go together (mutual TLS)" .what) -}}
{{- end -}}
{{- else if or $t.certKey $t.keyKey -}}
{{- fail (printf "%s.tls: certKey/keyKey need existingSecret" .what) -}}
{{- end -}}
{{- if $t.serverName }}{{ $_ := set $c "server_name" $t.serverName }}{{ end -}}
{{- if $t.insecureSkipVerify }}{{ $_ := set $c "insecure_skip_verify" true }}{{ end -}}
{{- toJson $c -}}
{{- end -}}

{{/*
The service configuration (segstream.yaml): .Values.config plus what the
chart owns (listen addresses, SASL mechanism, TLS files). Credentials are
refused here: they come from Secrets as environment variables.
*/}}
{{- define "segstream.config" -}}
{{- $c := deepCopy (default (dict) .Values.config) -}}
{{- $kafka := default (dict) $c.kafka -}}
{{- $redis := default (dict) $c.redis -}}
{{- $api := default (dict) $c.api -}}
{{- $http := default (dict) $c.http -}}
{{- $segments := default (dict) $c.segments -}}
{{- if or (hasKey $kafka "sasl") (hasKey $kafka "tls") -}}
{{- fail "config.kafka.sasl / config.kafka.tls: use the chart's kafka.sasl and kafka.tls values (credentials come from a Secret)" -}}
{{- end -}}
{{- if hasKey $redis "tls" -}}
{{- fail "config.redis.tls: use the chart's redis.tls values" -}}
{{- end -}}
{{- if or (hasKey $redis "password") (hasKey $redis "username") -}}
{{- fail "config.redis.username / password: put them in a Secret (redis.auth.existingSecret), never in the ConfigMap" -}}
{{- end -}}
{{- if or (hasKey $api "read_tokens") (hasKey $api "admin_tokens") -}}
{{- fail "config.api.read_tokens / admin_tokens: put them in a Secret (api.tokens.existingSecret), never in the ConfigMap" -}}
{{- end -}}
{{- if or (hasKey $http "listen") (hasKey $api "listen") -}}
{{- fail "config.http.listen / config.api.listen: set ports.metrics / ports.api instead" -}}
{{- end -}}
{{- $_ := set $http "listen" (printf ":%d" (int .Values.ports.metrics)) -}}
{{- $_ := set $api "listen" (printf ":%d" (int .Values.ports.api)) -}}
{{- with .Values.kafka.sasl -}}
{{- if .mechanism -}}
{{- if not (has .mechanism (list "PLAIN" "SCRAM-SHA-256" "SCRAM-SHA-512")) -}}
{{- fail (printf "kafka.sasl.mechanism %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512" .mechanism) -}}
{{- end -}}
{{- if not .existingSecret -}}
{{- fail "kafka.sasl.mechanism needs kafka.sasl.existingSecret (the username and password)" -}}
{{- end -}}
{{- $_ := set $kafka "sasl" (dict "mechanism" .mechanism) -}}
{{- end -}}
{{- end -}}
{{- if .Values.kafka.tls.enabled -}}
{{- $_ := set $kafka "tls" (include "segstream.tlsConfig" (dict "tls" .Values.kafka.tls "dir" (include "segstream.kafkaTLSDir" .) "what" "kafka") | fromJson) -}}
{{- end -}}
{{- if .Values.redis.tls.enabled -}}
{{- $_ := set $redis "tls" (include "segstream.tlsConfig" (dict "tls" .Values.redis.tls "dir" (include "segstream.redisTLSDir" .) "what" "redis") | fromJson) -}}
{{- end -}}
{{- if .Values.segments -}}
{{- if hasKey $segments "dir" -}}
{{- fail "config.segments.dir: the chart points it at the mounted segments; leave it out" -}}
{{- end -}}
{{- $_ := set $segments "dir" (include "segstream.segmentsDir" .) -}}
{{- end -}}
{{- $_ := set $c "kafka" $kafka -}}
{{- $_ := set $c "redis" $redis -}}
{{- $_ := set $c "api" $api -}}
{{- $_ := set $c "http" $http -}}
{{- if $segments }}{{ $_ := set $c "segments" $segments }}{{ end -}}
{{- toYaml $c -}}
{{- end -}}

{{/* KEDA's SASL mode for the service's mechanism. */}}
{{- define "segstream.kedaSasl" -}}
{{- get (dict "PLAIN" "plaintext" "SCRAM-SHA-256" "scram_sha256" "SCRAM-SHA-512" "scram_sha512") .Values.kafka.sasl.mechanism -}}
{{- end -}}

{{- define "segstream.kedaNeedsAuth" -}}
{{- if or .Values.kafka.sasl.mechanism (and .Values.kafka.tls.enabled .Values.kafka.tls.existingSecret) -}}true{{- end -}}
{{- end -}}

{{/* The container's environment: credentials from Secrets, then extraEnv. */}}
{{- define "segstream.env" -}}
{{- $kafka := .Values.kafka -}}
{{- $redis := .Values.redis -}}
{{- $tokens := .Values.api.tokens -}}
{{- if $kafka.sasl.mechanism }}
- name: SEGSTREAM_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $kafka.sasl.existingSecret }}
      key: {{ $kafka.sasl.usernameKey }}
- name: SEGSTREAM_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $kafka.sasl.existingSecret }}
      key: {{ $kafka.sasl.passwordKey }}
{{- end }}
{{- if $redis.auth.existingSecret }}
{{- if $redis.auth.usernameKey }}
- name: SEGSTREAM_REDIS_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $redis.auth.existingSecret }}
      key: {{ $redis.auth.usernameKey }}
{{- end }}
- name: SEGSTREAM_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $redis.auth.existingSecret }}
      key: {{ $redis.auth.passwordKey }}
{{- end }}
{{- if $tokens.existingSecret }}
{{- if $tokens.readTokensKey }}
- name: SEGSTREAM_API_READ_TOKENS
  valueFrom:
    secretKeyRef:
      name: {{ $tokens.existingSecret }}
      key: {{ $tokens.readTokensKey }}
{{- end }}
{{- if $tokens.adminTokensKey }}
- name: SEGSTREAM_API_ADMIN_TOKENS
  valueFrom:
    secretKeyRef:
      name: {{ $tokens.existingSecret }}
      key: {{ $tokens.adminTokensKey }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}
