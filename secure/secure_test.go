package secure_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/producer"
	"github.com/segstream/segstream/secure"
)

func TestValidateNamesTheField(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		k    secure.Kafka
		want string
	}{
		{secure.Kafka{SASL: secure.SASL{Mechanism: "GSSAPI", Username: "u", Password: "p"}}, `kafka.sasl.mechanism: "GSSAPI" must be`},
		{secure.Kafka{SASL: secure.SASL{Mechanism: "SCRAM-SHA-256", Password: "p"}}, "kafka.sasl.username: required"},
		{secure.Kafka{SASL: secure.SASL{Mechanism: "PLAIN", Username: "u"}}, "kafka.sasl.password: required"},
		{secure.Kafka{SASL: secure.SASL{Username: "u"}}, "kafka.sasl.mechanism: a username or password is set"},
		{secure.Kafka{TLS: secure.TLS{CAFile: filepath.Join(dir, "missing.pem")}}, "kafka.tls.ca_file: open"},
		{secure.Kafka{TLS: secure.TLS{CAFile: notPEM}}, "kafka.tls.ca_file: " + notPEM + " holds no PEM certificate"},
		{secure.Kafka{TLS: secure.TLS{CertFile: notPEM}}, "kafka.tls: cert_file and key_file go together"},
		{secure.Kafka{TLS: secure.TLS{CertFile: notPEM, KeyFile: notPEM}}, "kafka.tls.cert_file/key_file:"},
	} {
		err := c.k.Validate("kafka")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.k, err, c.want)
		}
	}
	ok := secure.Kafka{SASL: secure.SASL{Mechanism: "scram-sha-512", Username: "u", Password: "p"}}
	if err := ok.Validate("kafka"); err != nil {
		t.Errorf("lower-case mechanism: %v", err)
	}
	if (secure.Kafka{}).Protocol() != "PLAINTEXT" || ok.Protocol() != "SASL_PLAINTEXT" ||
		(secure.Kafka{TLS: secure.TLS{Enabled: true}}).Protocol() != "SSL" {
		t.Error("Protocol")
	}
}

func TestSASLStringHidesThePassword(t *testing.T) {
	s := secure.SASL{Mechanism: secure.ScramSHA512, Username: "alice", Password: "hunter2-very-secret"}
	if got := s.String(); strings.Contains(got, "hunter2") || !strings.Contains(got, "alice") || !strings.Contains(got, "password=set") {
		t.Errorf("String() = %q", got)
	}
}

const (
	kafkaUser = "segstream-svc"
	kafkaPass = "s3cret-Passw0rd-for-tests"
)

// A real broker with a SASL_SSL listener (certificates made here, client
// certificates required): every mechanism logs in, produces and consumes;
// each misconfiguration fails at once with its cause.
func TestKafkaSASLSSL(t *testing.T) {
	certs := testkit.GenerateCerts(t)
	b := testkit.StartSecureKafka(t, certs, map[string]string{kafkaUser: kafkaPass, "other": "other-password"}, 1)
	tlsOK := secure.TLS{CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("mechanisms", func(t *testing.T) {
		for _, mech := range []string{secure.Plain, secure.ScramSHA256, secure.ScramSHA512} {
			k := secure.Kafka{SASL: secure.SASL{Mechanism: mech, Username: kafkaUser, Password: kafkaPass}, TLS: tlsOK}
			if err := k.Validate("kafka"); err != nil {
				t.Fatal(err)
			}
			if err := secure.CheckKafka(ctx, []string{b.SecureAddr}, k); err != nil {
				t.Fatalf("%s: %v", mech, err)
			}
			topic := "secure." + strings.ToLower(mech)
			// the admin client, the writer and the reader, all over SASL_SSL
			if err := producer.EnsureTopics(ctx, []string{b.SecureAddr}, k, kafka.TopicConfig{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}); err != nil {
				t.Fatalf("%s: creating %s: %v", mech, topic, err)
			}
			tr, err := k.Transport()
			if err != nil {
				t.Fatal(err)
			}
			w := &kafka.Writer{Addr: kafka.TCP(b.SecureAddr), Topic: topic, Transport: tr, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
			if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("over " + mech)}); err != nil {
				t.Fatalf("%s: writing: %v", mech, err)
			}
			_ = w.Close()
			d, err := k.Dialer(10 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.SecureAddr}, Topic: topic, Dialer: d, MaxWait: 50 * time.Millisecond})
			m, err := r.ReadMessage(ctx)
			_ = r.Close()
			if err != nil || string(m.Value) != "over "+mech {
				t.Fatalf("%s: read %q, %v", mech, m.Value, err)
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		scram := func(user, pass string) secure.SASL {
			return secure.SASL{Mechanism: secure.ScramSHA512, Username: user, Password: pass}
		}
		good := scram(kafkaUser, kafkaPass)
		for _, c := range []struct {
			name string
			addr string
			k    secure.Kafka
			want []string
		}{
			{"wrong SCRAM password", b.SecureAddr, secure.Kafka{SASL: scram(kafkaUser, "wrong-password-123"), TLS: tlsOK},
				[]string{"kafka.sasl", "rejected user \"" + kafkaUser + "\"", "wrong username or password"}},
			{"wrong PLAIN password", b.SecureAddr, secure.Kafka{SASL: secure.SASL{Mechanism: secure.Plain, Username: kafkaUser, Password: "nope-nope-nope"}, TLS: tlsOK},
				[]string{"kafka.sasl", "wrong username or password"}},
			{"unknown user", b.SecureAddr, secure.Kafka{SASL: scram("mallory", kafkaPass), TLS: tlsOK},
				[]string{"kafka.sasl", "rejected user \"mallory\""}},
			{"untrusted CA", b.SecureAddr, secure.Kafka{SASL: good, TLS: secure.TLS{CAFile: certs.OtherCA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}},
				[]string{"kafka.tls.ca_file", "signed by an authority not in " + certs.OtherCA}},
			{"system roots", b.SecureAddr, secure.Kafka{SASL: good, TLS: secure.TLS{Enabled: true, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}},
				[]string{"kafka.tls.ca_file", "the system's roots"}},
			{"server name", b.SecureAddr, secure.Kafka{SASL: good, TLS: secure.TLS{CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey, ServerName: "kafka.example.com"}},
				[]string{"kafka.tls.server_name", `not valid for "kafka.example.com"`}},
			{"no client certificate", b.SecureAddr, secure.Kafka{SASL: good, TLS: secure.TLS{CAFile: certs.CA}},
				[]string{"kafka.tls.cert_file", "may require a client certificate"}},
			{"no TLS", b.SecureAddr, secure.Kafka{SASL: good},
				[]string{"closed the connection", "SASL_PLAINTEXT"}},
			{"TLS to a plaintext listener", b.Addr, secure.Kafka{TLS: tlsOK},
				[]string{"closed the connection", "security SSL"}},
		} {
			start := time.Now()
			err := secure.CheckKafka(ctx, []string{c.addr}, c.k)
			if err == nil {
				t.Errorf("%s: connected", c.name)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: %v\nwant it to say %q", c.name, err, w)
				}
			}
			if strings.Contains(err.Error(), kafkaPass) || strings.Contains(err.Error(), "wrong-password-123") {
				t.Errorf("%s: the error shows a password: %v", c.name, err)
			}
			// one attempt, not a retry loop (the check's own deadline is 15 s)
			if d := time.Since(start); d > 16*time.Second {
				t.Errorf("%s: took %s", c.name, d)
			}
			t.Logf("%s: %v", c.name, err)
		}
	})
}
