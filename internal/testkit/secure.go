package testkit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Certs are PEM files a test generated: a CA, a server certificate signed
// by it for 127.0.0.1 and localhost, a client certificate signed by it,
// and a second CA that signed nothing the servers use (an untrusted one).
type Certs struct {
	Dir string
	// CA is the trusted CA's certificate.
	CA string
	// ServerCert and ServerKey (PKCS#8); ServerPEM holds both, key first,
	// then the chain (Kafka's PEM key store).
	ServerCert, ServerKey, ServerPEM string
	// ClientCert and ClientKey: a client certificate the servers accept.
	ClientCert, ClientKey string
	// OtherCA: a CA the servers' certificates do not chain to.
	OtherCA string
}

// GenerateCerts writes fresh certificates (ECDSA P-256, valid for a day)
// into a temporary folder.
func GenerateCerts(t testing.TB) Certs {
	t.Helper()
	dir := t.TempDir()
	c := Certs{Dir: dir, CA: filepath.Join(dir, "ca.pem"), ServerCert: filepath.Join(dir, "server-cert.pem"),
		ServerKey: filepath.Join(dir, "server-key.pem"), ServerPEM: filepath.Join(dir, "server.pem"),
		ClientCert: filepath.Join(dir, "client-cert.pem"), ClientKey: filepath.Join(dir, "client-key.pem"),
		OtherCA: filepath.Join(dir, "other-ca.pem")}
	caCert, caKey := newCA(t, "segstream test CA")
	other, _ := newCA(t, "segstream untrusted CA")
	srvDER, srvKey := issue(t, caCert, caKey, "segstream test server", x509.ExtKeyUsageServerAuth, []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	cliDER, cliKey := issue(t, caCert, caKey, "segstream test client", x509.ExtKeyUsageClientAuth, nil, nil)
	writePEM(t, c.CA, pemBlock("CERTIFICATE", caCert.Raw))
	writePEM(t, c.OtherCA, pemBlock("CERTIFICATE", other.Raw))
	writePEM(t, c.ServerCert, pemBlock("CERTIFICATE", srvDER), pemBlock("CERTIFICATE", caCert.Raw))
	writePEM(t, c.ServerKey, pemBlock("PRIVATE KEY", pkcs8(t, srvKey)))
	writePEM(t, c.ServerPEM, pemBlock("PRIVATE KEY", pkcs8(t, srvKey)), pemBlock("CERTIFICATE", srvDER), pemBlock("CERTIFICATE", caCert.Raw))
	writePEM(t, c.ClientCert, pemBlock("CERTIFICATE", cliDER))
	writePEM(t, c.ClientKey, pemBlock("PRIVATE KEY", pkcs8(t, cliKey)))
	return c
}

func newCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	tpl := &x509.Certificate{IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, key := certificate(t, tpl, name, nil, nil)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func issue(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, usage x509.ExtKeyUsage, dns []string, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	tpl := &x509.Certificate{KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns, IPAddresses: ips}
	return certificate(t, tpl, name, ca, caKey)
}

// certificate gives tpl a fresh key, a serial, the name and a day of
// validity, and signs it with parent (nil: itself).
func certificate(t testing.TB, tpl *x509.Certificate, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl.SerialNumber, tpl.Subject = serial(t), pkix.Name{CommonName: name}
	tpl.NotBefore, tpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	if parent == nil {
		parent, parentKey = tpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pkcs8(t testing.TB, k *ecdsa.PrivateKey) []byte {
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writePEM(t testing.TB, path string, blocks ...[]byte) {
	t.Helper()
	var b []byte
	for _, x := range blocks {
		b = append(b, x...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// StartSecureKafka starts a real Apache Kafka broker (as StartApacheKafka)
// that also has a SASL_SSL listener (Broker.SecureAddr): its certificate
// is certs.ServerPEM, it requires a client certificate signed by certs.CA,
// and each user in users (name → password) may log in with PLAIN,
// SCRAM-SHA-256 and SCRAM-SHA-512. The default topics are created on the
// plaintext listener.
func StartSecureKafka(t testing.TB, certs Certs, users map[string]string, partitions int, extraTopics ...string) *Broker {
	t.Helper()
	dir := t.TempDir()
	var lines []string
	for u, p := range users {
		lines = append(lines, u+" "+p)
	}
	for name, src := range map[string]string{"server.pem": certs.ServerPEM, "ca.pem": certs.CA} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startApacheKafka(t, dir, partitions, extraTopics...)
}

// TLSRedis is a redis-server a test started with only a TLS port
// (client certificates required, signed by the certs' CA) and an ACL user.
type TLSRedis struct {
	Addr string
}

// StartTLSRedis starts redis-server on a free loopback port with TLS only
// (--port 0 --tls-port), the default user disabled and one ACL user
// (user, password) allowed everything, and stops it when the test ends.
// Debian's redis-server is built with TLS; the test fails under CI, and
// skips elsewhere, when redis-server is missing.
func StartTLSRedis(t testing.TB, certs Certs, user, password string) *TLSRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		needSetup(t, "redis-server")
	}
	port := freePorts(t, 1)
	dir := t.TempDir()
	args := []string{"--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", certs.ServerCert, "--tls-key-file", certs.ServerKey, "--tls-ca-cert-file", certs.CA,
		"--tls-auth-clients", "yes", "--save", "", "--appendonly", "no", "--dir", dir,
		"--user", "default", "off", "--user", user, "on", ">" + password, "~*", "&*", "+@all"}
	cmd := exec.Command("redis-server", args...)
	out, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server with TLS: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = out.Close()
	})
	r := &TLSRedis{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	tc := clientTLS(t, certs)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, Username: user, Password: password, TLSConfig: tc, MaxRetries: -1})
	defer func() { _ = rdb.Close() }()
	WaitFor(t, 20*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := rdb.Ping(ctx).Err(); err != nil {
			log, _ := os.ReadFile(out.Name())
			return fmt.Errorf("redis-server with TLS on %s: %w\n%s", r.Addr, err, log)
		}
		return nil
	})
	return r
}

func clientTLS(t testing.TB, certs Certs) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	b, err := os.ReadFile(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(b)
	cert, err := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}
