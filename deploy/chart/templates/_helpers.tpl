{{/* The image, with global.cattle.systemDefaultRegistry in front when set (Rancher/Harvester private registries). */}}
{{- define "vxmesh.image" -}}
{{- $registry := .Values.global.cattle.systemDefaultRegistry | default "" | trimSuffix "/" -}}
{{- $ref := printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) -}}
{{- if $registry }}{{ printf "%s/%s" $registry $ref }}{{ else }}{{ $ref }}{{ end -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "vxmesh.labels" -}}
app.kubernetes.io/part-of: vxmesh
{{- end -}}

{{/* The pod-spec fields both workloads take from their values block (agent or controller). */}}
{{- define "vxmesh.scheduling" -}}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "vxmesh.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
