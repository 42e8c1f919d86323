package check

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The service has no --check-config flag; `segstream segments check
// --config FILE DEFS` loads FILE with the service's own loader (unknown
// keys and invalid values are errors, TLS files are read), compiles the
// segment definitions, and touches neither Kafka nor Redis. That is what
// these tests run, on the binary built from ../.. .

// checkConfig runs the loader on a config with the given environment.
func checkConfig(t *testing.T, cfg []byte, env []string, defs string) {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "segstream.yaml")
	if err := os.WriteFile(f, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(dir, cleanEnv(env...), segstreamBinary(t), "segments", "check", "--config", f, defs)
	if err != nil {
		t.Fatalf("the service refuses the config:\n%v\nconfig:\n%s", err, cfg)
	}
	if !strings.Contains(string(out), "ok ") {
		t.Fatalf("segments check said:\n%s", out)
	}
}

// checkKeys: every key of the config is an option of the service.
func checkKeys(t *testing.T, cfg []byte) {
	t.Helper()
	known, _ := serviceKeys(t)
	for _, p := range leafPaths(t, cfg) {
		if !known[p] {
			t.Errorf("%s is not an option of the service (segstream run --help-env)", p)
		}
	}
}

func TestChartConfigLoads(t *testing.T) {
	_, vars := serviceKeys(t)
	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			r := renderChart(t, c.name, c.values)
			checkKeys(t, r.config)
			env := podEnv(t, r)
			// Mounted files are not here: point the loader at real PEM files
			// of the same roles (the loader reads and parses them).
			pki := newPKI(t)
			for _, p := range leafPaths(t, r.config) {
				if !strings.HasSuffix(p, "_file") {
					continue
				}
				role := strings.TrimSuffix(p[strings.LastIndex(p, ".")+1:], "_file")
				env = append(env, vars[p]+"="+pki[role])
			}
			defs := repoPath("deploy", "segments", "taxonomy.yaml")
			if dir, ok := lookup(r.configMap, "segments.dir"); ok {
				cm, ok := r.configMaps[releaseName+"-segstream-segments"]
				if !ok || dir != "/etc/segstream/segments" {
					t.Fatalf("segments.dir %v without the segments ConfigMap", dir)
				}
				tmp := t.TempDir()
				var names []string
				for name, body := range cm.Data {
					if err := os.WriteFile(filepath.Join(tmp, name), []byte(body), 0o600); err != nil {
						t.Fatal(err)
					}
					names = append(names, name)
				}
				sort.Strings(names)
				env = append(env, vars["segments.dir"]+"="+tmp)
				defs = filepath.Join(tmp, names[0])
			}
			checkConfig(t, r.config, env, defs)
		})
	}
}

// podEnv is the container's environment with a stand-in for every value
// that comes from a Secret (tokens long enough for the API's rule).
func podEnv(t *testing.T, r *render) []string {
	t.Helper()
	var env []string
	for _, e := range r.deployment.Spec.Template.Spec.Containers[0].Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			v := "secret-" + strings.ToLower(e.Name)
			if strings.HasSuffix(e.Name, "_TOKENS") {
				v = "token-0123456789abcdef-1,token-0123456789abcdef-2"
			}
			env = append(env, e.Name+"="+v)
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		default:
			t.Fatalf("env %s from %+v: no stand-in", e.Name, e.ValueFrom)
		}
	}
	return env
}

// newPKI writes a CA and a client certificate and key signed by it.
func newPKI(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "deploy-check CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "segstream"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"ca": "ca.crt", "cert": "tls.crt", "key": "tls.key"}
	blocks := map[string]*pem.Block{"ca": {Type: "CERTIFICATE", Bytes: caDER}, "cert": {Type: "CERTIFICATE", Bytes: der},
		"key": {Type: "EC PRIVATE KEY", Bytes: keyDER}}
	out := map[string]string{}
	for role, name := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(blocks[role]), 0o600); err != nil {
			t.Fatal(err)
		}
		out[role] = p
	}
	return out
}
