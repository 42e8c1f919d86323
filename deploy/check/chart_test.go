package check

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	sigsyaml "sigs.k8s.io/yaml"
)

var chartDir = repoPath("deploy", "helm", "segstream")

// The value sets the chart is rendered with: its defaults, the GPU
// overrides, and one with every feature on (SASL_SSL with mutual TLS,
// Redis auth and TLS, tokens, segments, ServiceMonitor, KEDA).
var chartCases = []struct {
	name   string
	values []string
}{
	{"default", nil},
	{"gpu", []string{filepath.Join(chartDir, "values-gpu.yaml")}},
	{"all", []string{repoPath("deploy", "check", "testdata", "values-all.yaml")}},
}

const releaseName, namespace = "seg", "segments"

// render is one `helm template`, decoded.
type render struct {
	name        string
	deployment  *appsv1.Deployment
	service     *corev1.Service
	account     *corev1.ServiceAccount
	configMaps  map[string]*corev1.ConfigMap
	pdb         *policyv1.PodDisruptionBudget
	monitor     *monitoringv1.ServiceMonitor
	scaled      *kedav1alpha1.ScaledObject
	triggerAuth map[string]*kedav1alpha1.TriggerAuthentication
	config      []byte         // segstream.yaml of the ConfigMap
	configMap   map[string]any // the same, decoded
}

func helmArgs(values []string, extra ...string) []string {
	var args []string
	for _, v := range values {
		args = append(args, "-f", v)
	}
	return append(args, extra...)
}

func renderChart(t *testing.T, name string, values []string, extra ...string) *render {
	t.Helper()
	out, err := run(repo, nil, helmBin(t), append([]string{"template", releaseName, chartDir, "--namespace", namespace}, helmArgs(values, extra...)...)...)
	if err != nil {
		t.Fatal(err)
	}
	r := &render{name: name, configMaps: map[string]*corev1.ConfigMap{}, triggerAuth: map[string]*kedav1alpha1.TriggerAuthentication{}}
	seen := map[string]bool{}
	for i, doc := range splitYAML(out) {
		var tm metav1.TypeMeta
		if err := sigsyaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, doc)
		}
		var obj interface{ GetName() string }
		var keep func()
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			r.deployment = &appsv1.Deployment{}
			obj = r.deployment
		case "v1 Service":
			r.service = &corev1.Service{}
			obj = r.service
		case "v1 ServiceAccount":
			r.account = &corev1.ServiceAccount{}
			obj = r.account
		case "v1 ConfigMap":
			cm := &corev1.ConfigMap{}
			obj = cm
			keep = func() { r.configMaps[cm.Name] = cm }
		case "policy/v1 PodDisruptionBudget":
			r.pdb = &policyv1.PodDisruptionBudget{}
			obj = r.pdb
		case "monitoring.coreos.com/v1 ServiceMonitor":
			r.monitor = &monitoringv1.ServiceMonitor{}
			obj = r.monitor
		case "keda.sh/v1alpha1 ScaledObject":
			r.scaled = &kedav1alpha1.ScaledObject{}
			obj = r.scaled
		case "keda.sh/v1alpha1 TriggerAuthentication":
			ta := &kedav1alpha1.TriggerAuthentication{}
			obj = ta
			keep = func() { r.triggerAuth[ta.Name] = ta }
		default:
			t.Fatalf("document %d: unexpected %s %s\n%s", i, tm.APIVersion, tm.Kind, doc)
		}
		// Strict: an unknown or duplicate field is an error, as the API server's
		// strict field validation would make it.
		if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s %s: %v\n%s", tm.APIVersion, tm.Kind, err, doc)
		}
		if keep != nil {
			keep()
		}
		key := tm.Kind + "/" + obj.GetName()
		if seen[key] {
			t.Fatalf("%s rendered twice", key)
		}
		seen[key] = true
		if m, ok := obj.(metav1.Object); ok && m.GetName() == "" {
			t.Fatalf("%s without a name", tm.Kind)
		}
	}
	if r.deployment == nil || r.service == nil {
		t.Fatalf("no Deployment or Service rendered")
	}
	for _, cm := range r.configMaps {
		if c, ok := cm.Data["segstream.yaml"]; ok {
			r.config = []byte(c)
		}
	}
	if r.config == nil {
		t.Fatal("no ConfigMap with segstream.yaml")
	}
	if err := yaml.Unmarshal(r.config, &r.configMap); err != nil {
		t.Fatalf("segstream.yaml: %v", err)
	}
	return r
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitYAML splits a multi-document stream, dropping empty documents.
func splitYAML(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range docSep.Split(string(b), -1) {
		empty := true
		for _, l := range strings.Split(d, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func TestHelmLint(t *testing.T) {
	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			for _, strict := range []bool{false, true} {
				args := []string{"lint", chartDir}
				if strict {
					args = append(args, "--strict")
				}
				out, err := run(repo, nil, helmBin(t), append(args, helmArgs(c.values)...)...)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(out), "[WARNING]") || strings.Contains(string(out), "[ERROR]") {
					t.Errorf("helm %s:\n%s", strings.Join(args, " "), out)
				}
			}
		})
	}
}

func TestChart(t *testing.T) {
	img := dockerImage(t)
	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			r := renderChart(t, c.name, c.values)
			checkDeployment(t, r, img)
			checkNoSecretsInConfig(t, r)
			checkTLSFilesMounted(t, r)
			checkService(t, r)
			checkPDB(t, r)
			checkMonitor(t, r)
			checkKEDA(t, r)
			switch c.name {
			case "default":
				if r.monitor != nil || r.scaled != nil || len(r.triggerAuth) > 0 {
					t.Error("ServiceMonitor or KEDA objects rendered by default")
				}
				if r.deployment.Spec.Replicas == nil {
					t.Error("replicas unset without KEDA")
				}
				for _, k := range []string{"kafka.sasl", "kafka.tls", "redis.tls"} {
					if _, ok := lookup(r.configMap, k); ok {
						t.Errorf("default config has %s", k)
					}
				}
				checkImagePaths(t, r, img, false)
			case "gpu":
				ctr := r.deployment.Spec.Template.Spec.Containers[0]
				if q, ok := ctr.Resources.Limits["nvidia.com/gpu"]; !ok || q.Value() < 1 {
					t.Errorf("no nvidia.com/gpu limit: %v", ctr.Resources.Limits)
				}
				if p, _ := lookup(r.configMap, "encoder.provider"); p != "cuda" {
					t.Errorf("encoder.provider = %v, want cuda", p)
				}
				ps := r.deployment.Spec.Template.Spec
				if len(ps.NodeSelector) == 0 || len(ps.Tolerations) == 0 {
					t.Error("no nodeSelector/tolerations for GPU nodes")
				}
				checkImagePaths(t, r, img, true)
			case "all":
				if r.monitor == nil || r.scaled == nil || len(r.triggerAuth) != 1 || r.pdb == nil {
					t.Fatal("ServiceMonitor, ScaledObject, TriggerAuthentication or PDB missing")
				}
				if r.deployment.Spec.Replicas != nil {
					t.Error("replicas set while KEDA owns the replica count")
				}
				env := map[string]bool{}
				for _, e := range r.deployment.Spec.Template.Spec.Containers[0].Env {
					env[e.Name] = true
				}
				for _, n := range []string{"SEGSTREAM_KAFKA_SASL_USERNAME", "SEGSTREAM_KAFKA_SASL_PASSWORD", "SEGSTREAM_REDIS_USERNAME",
					"SEGSTREAM_REDIS_PASSWORD", "SEGSTREAM_API_READ_TOKENS", "SEGSTREAM_API_ADMIN_TOKENS"} {
					if !env[n] {
						t.Errorf("env %s missing", n)
					}
				}
				for k, want := range map[string]any{"kafka.sasl.mechanism": "SCRAM-SHA-512", "kafka.tls.enabled": true, "redis.tls.enabled": true,
					"kafka.tls.server_name": "kafka.internal", "segments.dir": "/etc/segstream/segments"} {
					if got, _ := lookup(r.configMap, k); got != want {
						t.Errorf("%s = %v, want %v", k, got, want)
					}
				}
				if _, ok := r.configMaps[releaseName+"-segstream-segments"]; !ok {
					t.Error("no segments ConfigMap")
				}
			}
		})
	}
}

// The chart refuses credentials and chart-owned keys under config, with
// its own message.
func TestChartRefuses(t *testing.T) {
	for _, c := range []struct{ flag, set, want string }{
		{"--set", "config.redis.password=x", "never in the ConfigMap"},
		{"--set", "config.redis.username=x", "never in the ConfigMap"},
		{"--set", "config.kafka.sasl.password=x", "use the chart's kafka.sasl"},
		{"--set-json", `config.api={"read_tokens":["0123456789abcdef"]}`, "never in the ConfigMap"},
		{"--set-json", `config.api={"admin_tokens":["0123456789abcdef"]}`, "never in the ConfigMap"},
		{"--set", "config.kafka.tls.enabled=true", "use the chart's kafka.sasl and kafka.tls"},
		{"--set", "config.redis.tls.enabled=true", "use the chart's redis.tls"},
		{"--set", "config.http.listen=:1", "set ports.metrics"},
		{"--set", "config.segments.dir=/x,segments.a\\.yaml=x", "leave it out"},
		{"--set", "kafka.sasl.mechanism=GSSAPI", "is not one of PLAIN"},
		{"--set", "kafka.sasl.mechanism=PLAIN", "needs kafka.sasl.existingSecret"},
		{"--set", "kafka.tls.enabled=true,kafka.tls.existingSecret=s,kafka.tls.certKey=tls.crt", "go together"},
		{"--set", "segments.notyaml=x", "end in .yaml or .yml"},
	} {
		_, err := run(repo, nil, helmBin(t), "template", releaseName, chartDir, c.flag, c.set)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: want an error with %q, got %v", c.flag, c.set, c.want, err)
		}
	}
}

func checkDeployment(t *testing.T, r *render, img *image) {
	t.Helper()
	d := r.deployment
	ps := d.Spec.Template.Spec
	if len(ps.Containers) != 1 {
		t.Fatalf("%d containers", len(ps.Containers))
	}
	ctr := ps.Containers[0]
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("selector %v does not match the pod labels %v (%v)", d.Spec.Selector, d.Spec.Template.Labels, err)
	}
	// Security: non-root with the image's uid, read-only root, no capabilities.
	psc, sc := ps.SecurityContext, ctr.SecurityContext
	if psc == nil || sc == nil {
		t.Fatal("no securityContext")
	}
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("runAsNonRoot not set")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != img.uid || psc.RunAsUser == nil || *psc.RunAsUser != img.uid {
		t.Errorf("runAsUser %v/%v, the image's USER is %d", psc.RunAsUser, sc.RunAsUser, img.uid)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem not set")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation not false")
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities %v: want drop ALL, add none", sc.Capabilities)
	}
	if ctr.Resources.Requests.Cpu().IsZero() || ctr.Resources.Requests.Memory().IsZero() || ctr.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources incomplete: %+v", ctr.Resources)
	}
	// The command is the image's entrypoint, and its config is the mounted ConfigMap.
	if !slices.Equal(ctr.Command, img.entrypoint) {
		t.Errorf("command %q, the image's ENTRYPOINT is %q", ctr.Command, img.entrypoint)
	}
	cfgPath := ""
	for i, a := range ctr.Command {
		if a == "--config" && i+1 < len(ctr.Command) {
			cfgPath = ctr.Command[i+1]
		}
	}
	vols := map[string]corev1.Volume{}
	for _, v := range ps.Volumes {
		vols[v.Name] = v
	}
	mountedConfig := false
	for _, m := range ctr.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			t.Errorf("volumeMount %s has no volume", m.Name)
			continue
		}
		if v.ConfigMap != nil {
			cm, ok := r.configMaps[v.ConfigMap.Name]
			if !ok {
				t.Errorf("volume %s: ConfigMap %s is not rendered", v.Name, v.ConfigMap.Name)
				continue
			}
			if m.MountPath == cfgPath {
				if _, ok := cm.Data[m.SubPath]; !ok || m.SubPath != "segstream.yaml" {
					t.Errorf("%s is mounted from %s/%s", cfgPath, cm.Name, m.SubPath)
				}
				mountedConfig = true
			}
		}
		if !m.ReadOnly && m.MountPath != "/tmp" {
			t.Errorf("volumeMount %s at %s is writable", m.Name, m.MountPath)
		}
	}
	if !mountedConfig {
		t.Errorf("--config %s is not a mounted ConfigMap key", cfgPath)
	}
	// Ports are those the config listens on; the probes use the real endpoints.
	ports := map[string]int32{}
	for _, p := range ctr.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for key, name := range map[string]string{"http.listen": "metrics", "api.listen": "api"} {
		l, _ := lookup(r.configMap, key)
		if want := fmt.Sprintf(":%d", ports[name]); l != want {
			t.Errorf("%s = %v, container port %s is %s", key, l, name, want)
		}
		if !slices.Contains(img.expose, fmt.Sprint(ports[name])) {
			t.Errorf("port %s (%d) is not EXPOSEd by the image (%v)", name, ports[name], img.expose)
		}
	}
	for what, p := range map[string]*corev1.Probe{"readiness:/readyz": ctr.ReadinessProbe, "liveness:/healthz": ctr.LivenessProbe, "startup:/healthz": ctr.StartupProbe} {
		want := what[strings.Index(what, ":")+1:]
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want || p.HTTPGet.Port.String() != "metrics" {
			t.Errorf("%s probe: want GET %s on port metrics, got %+v", what, want, p)
		}
	}
	// Credentials come only from Secrets; every SEGSTREAM_ variable is one the service reads.
	_, vars := serviceKeys(t)
	known := map[string]bool{}
	for _, v := range vars {
		known[v] = true
	}
	for _, e := range ctr.Env {
		if strings.HasPrefix(e.Name, "SEGSTREAM_") && !known[e.Name] {
			t.Errorf("env %s is not an option of the service (segstream run --help-env)", e.Name)
		}
		if secretish(e.Name) && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("env %s does not come from a Secret", e.Name)
		}
	}
	if d.Spec.Template.Annotations["checksum/config"] == "" {
		t.Error("no checksum/config annotation: pods would not roll on a config change")
	}
	if g := ps.TerminationGracePeriodSeconds; g == nil || *g <= 30 {
		t.Errorf("terminationGracePeriodSeconds %v: must exceed shutdown_timeout (30s)", g)
	}
}

func secretish(name string) bool {
	return strings.Contains(name, "PASSWORD") || strings.Contains(name, "TOKEN") || strings.HasSuffix(name, "_USERNAME")
}

// No password, username or token in the ConfigMap.
func checkNoSecretsInConfig(t *testing.T, r *render) {
	t.Helper()
	for _, p := range leafPaths(t, r.config) {
		last := p[strings.LastIndex(p, ".")+1:]
		if last == "password" || last == "username" || strings.HasSuffix(last, "tokens") {
			t.Errorf("ConfigMap holds %s", p)
		}
	}
}

// Every *_file of the TLS settings lies in a mounted Secret that has it.
func checkTLSFilesMounted(t *testing.T, r *render) {
	t.Helper()
	ps := r.deployment.Spec.Template.Spec
	vols := map[string]corev1.Volume{}
	for _, v := range ps.Volumes {
		vols[v.Name] = v
	}
	for _, p := range leafPaths(t, r.config) {
		if !strings.HasSuffix(p, "_file") {
			continue
		}
		v, _ := lookup(r.configMap, p)
		file, _ := v.(string)
		found := false
		for _, m := range ps.Containers[0].VolumeMounts {
			vol := vols[m.Name]
			if vol.Secret == nil || filepath.Dir(file) != m.MountPath {
				continue
			}
			for _, it := range vol.Secret.Items {
				if filepath.Join(m.MountPath, it.Path) == file {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s = %s is not in a mounted Secret", p, file)
		}
	}
}

func checkService(t *testing.T, r *render) {
	t.Helper()
	s := r.service
	if !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(r.deployment.Spec.Template.Labels)) {
		t.Errorf("Service selector %v does not match the pods", s.Spec.Selector)
	}
	names := map[string]bool{}
	for _, p := range r.deployment.Spec.Template.Spec.Containers[0].Ports {
		names[p.Name] = true
	}
	want := map[string]bool{"api": true, "metrics": true}
	for _, p := range s.Spec.Ports {
		if !names[p.TargetPort.String()] {
			t.Errorf("Service port %s targets %s, not a container port", p.Name, p.TargetPort.String())
		}
		delete(want, p.Name)
	}
	if len(want) > 0 {
		t.Errorf("Service lacks ports %v", want)
	}
}

func checkPDB(t *testing.T, r *render) {
	t.Helper()
	if r.pdb == nil {
		t.Error("no PodDisruptionBudget")
		return
	}
	sel, err := metav1.LabelSelectorAsSelector(r.pdb.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(r.deployment.Spec.Template.Labels)) {
		t.Errorf("PDB selector does not match the pods (%v)", err)
	}
	if (r.pdb.Spec.MinAvailable == nil) == (r.pdb.Spec.MaxUnavailable == nil) {
		t.Error("PDB needs exactly one of minAvailable, maxUnavailable")
	}
}

func checkMonitor(t *testing.T, r *render) {
	t.Helper()
	m := r.monitor
	if m == nil {
		return
	}
	sel, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(r.service.Labels)) {
		t.Errorf("ServiceMonitor selector does not match the Service (%v)", err)
	}
	if !slices.Contains(m.Spec.NamespaceSelector.MatchNames, namespace) {
		t.Errorf("ServiceMonitor namespaces %v", m.Spec.NamespaceSelector.MatchNames)
	}
	if len(m.Spec.Endpoints) != 1 {
		t.Fatalf("%d endpoints", len(m.Spec.Endpoints))
	}
	ep := m.Spec.Endpoints[0]
	ok := false
	for _, p := range r.service.Spec.Ports {
		ok = ok || p.Name == ep.Port
	}
	if !ok || ep.Port != "metrics" || ep.Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoint %+v: want port metrics, path /metrics", ep)
	}
}

// The kafka scaler's trigger metadata (pkg/scalers/kafka_scaler.go of
// KEDA v2.21.0, the `keda:"name=..."` tags with order=triggerMetadata):
// KEDA's API types keep trigger metadata as a map, so the names are
// checked against this list.
var kedaKafkaMetadata = []string{"bootstrapServers", "consumerGroup", "topic", "partitionLimitation", "lagThreshold",
	"activationLagThreshold", "offsetResetPolicy", "allowIdleConsumers", "excludePersistentLag", "scaleToZeroOnInvalidOffset",
	"limitToPartitionsWithLag", "ensureEvenDistributionOfPartitions", "fullMetadata", "version", "tls", "unsafeSsl", "sasl",
	"saslTokenProvider", "awsRegion"}

// ... and its authentication parameters (order=authParams).
var kedaKafkaAuth = []string{"tls", "ca", "cert", "key", "keyPassword", "sasl", "username", "password", "saslTokenProvider",
	"scopes", "oauthTokenEndpointUri", "oauthExtensions", "keytab", "ccacheName", "realm", "kerberosConfig", "kerberosServiceName",
	"kerberosDisableFAST"}

func checkKEDA(t *testing.T, r *render) {
	t.Helper()
	so := r.scaled
	if so == nil {
		if len(r.triggerAuth) > 0 {
			t.Error("TriggerAuthentication without ScaledObject")
		}
		return
	}
	if so.Spec.ScaleTargetRef == nil || so.Spec.ScaleTargetRef.Name != r.deployment.Name || so.Spec.ScaleTargetRef.Kind != "Deployment" {
		t.Errorf("scaleTargetRef %+v, Deployment %s", so.Spec.ScaleTargetRef, r.deployment.Name)
	}
	partitions := 6
	if p, ok := lookup(r.configMap, "kafka.partitions"); ok {
		partitions = p.(int)
	}
	if so.Spec.MaxReplicaCount == nil || int(*so.Spec.MaxReplicaCount) > partitions {
		t.Errorf("maxReplicaCount %v above the %d input partitions", so.Spec.MaxReplicaCount, partitions)
	}
	if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "kafka" {
		t.Fatalf("triggers %+v: want one kafka trigger", so.Spec.Triggers)
	}
	tr := so.Spec.Triggers[0]
	for k := range tr.Metadata {
		if !slices.Contains(kedaKafkaMetadata, k) {
			t.Errorf("kafka trigger metadata %q is not a KEDA kafka scaler parameter", k)
		}
	}
	brokers, _ := lookup(r.configMap, "kafka.brokers")
	var bs []string
	for _, b := range brokers.([]any) {
		bs = append(bs, b.(string))
	}
	group := "segstream"
	if g, ok := lookup(r.configMap, "kafka.group_id"); ok {
		group = g.(string)
	}
	if tr.Metadata["bootstrapServers"] != strings.Join(bs, ",") || tr.Metadata["consumerGroup"] != group {
		t.Errorf("trigger %v does not follow kafka.brokers %v / group_id %s", tr.Metadata, bs, group)
	}
	mech, _ := lookup(r.configMap, "kafka.sasl.mechanism")
	wantSasl := map[any]string{nil: "", "PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}[mech]
	if tr.Metadata["sasl"] != wantSasl {
		t.Errorf("trigger sasl %q for mechanism %v", tr.Metadata["sasl"], mech)
	}
	tlsOn, _ := lookup(r.configMap, "kafka.tls.enabled")
	if (tlsOn == true) != (tr.Metadata["tls"] == "enable") {
		t.Errorf("trigger tls %q with kafka.tls.enabled %v", tr.Metadata["tls"], tlsOn)
	}
	if mech == nil && tlsOn != true {
		return
	}
	if tr.AuthenticationRef == nil {
		t.Fatal("SASL/TLS without authenticationRef")
	}
	ta, ok := r.triggerAuth[tr.AuthenticationRef.Name]
	if !ok {
		t.Fatalf("authenticationRef %s is not rendered", tr.AuthenticationRef.Name)
	}
	// The same Secrets as the pod's: SASL env, TLS volume.
	fromPod := map[string]bool{}
	for _, e := range r.deployment.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && strings.HasPrefix(e.Name, "SEGSTREAM_KAFKA_SASL_") {
			fromPod[e.ValueFrom.SecretKeyRef.Name+"/"+e.ValueFrom.SecretKeyRef.Key] = true
		}
	}
	for _, v := range r.deployment.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Name == "kafka-tls" {
			for _, it := range v.Secret.Items {
				fromPod[v.Secret.SecretName+"/"+it.Key] = true
			}
		}
	}
	params := map[string]bool{}
	for _, s := range ta.Spec.SecretTargetRef {
		if !slices.Contains(kedaKafkaAuth, s.Parameter) {
			t.Errorf("TriggerAuthentication parameter %q is not a KEDA kafka auth parameter", s.Parameter)
		}
		if !fromPod[s.Name+"/"+s.Key] {
			t.Errorf("TriggerAuthentication %s uses %s/%s, which the pod does not", s.Parameter, s.Name, s.Key)
		}
		params[s.Parameter] = true
	}
	if mech != nil && (!params["username"] || !params["password"]) {
		t.Error("SASL without username/password in the TriggerAuthentication")
	}
	if f, _ := lookup(r.configMap, "kafka.tls.ca_file"); f != nil && !params["ca"] {
		t.Error("kafka.tls.ca_file without ca in the TriggerAuthentication")
	}
}

// The config's encoder and model paths are where the image puts them.
func checkImagePaths(t *testing.T, r *render, img *image, gpu bool) {
	t.Helper()
	want := map[string]string{
		"encoder.model_dir":    img.copied("var/models/use-lite"),
		"encoder.library_path": img.copied("var/lib/libonnxruntime.so.1"),
	}
	if gpu {
		want["encoder.library_path"] = filepath.Join(img.copied("var/lib/gpu"), "libonnxruntime.so")
	}
	for k, w := range want {
		if got, _ := lookup(r.configMap, k); got != w || w == "" {
			t.Errorf("%s = %v, the image has it at %q", k, got, w)
		}
	}
	// every other file the config names is in the image
	paths := map[string]any{}
	paths["model.path"], _ = lookup(r.configMap, "model.path")
	if v, ok := lookup(r.configMap, "model.theme_files"); ok {
		for i, f := range v.([]any) {
			paths[fmt.Sprintf("model.theme_files[%d]", i)] = f
		}
	}
	if v, ok := lookup(r.configMap, "sentiment.models"); ok {
		for i, m := range v.([]any) {
			paths[fmt.Sprintf("sentiment.models[%d].file", i)] = m.(map[string]any)["file"]
		}
	}
	if v, ok := lookup(r.configMap, "encoder.models"); ok {
		for i, m := range v.([]any) {
			paths[fmt.Sprintf("encoder.models[%d].model_dir", i)] = m.(map[string]any)["model_dir"]
		}
	}
	for k, v := range paths {
		p, _ := v.(string)
		if !filepath.IsAbs(p) || !img.has(p) {
			t.Errorf("%s = %v: not an absolute path the image has", k, v)
		}
	}
}
