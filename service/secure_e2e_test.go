package service_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/replay"
	"github.com/segstream/segstream/secure"
	"github.com/segstream/segstream/service"
)

const (
	secKafkaUser  = "segstream"
	secKafkaPass  = "kafka-Passw0rd-never-logged"
	secRedisUser  = "segstream-app"
	secRedisPass  = "redis-Passw0rd-never-logged"
	secWrongPass  = "a-wrong-password-never-logged"
	secureTimeout = 3 * time.Minute
)

// syncBuffer collects a logger's output across goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Sync() error { return nil }

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// secureEnv configures the service for the SASL_SSL listener (SCRAM-SHA-512,
// client certificate) and the TLS-only Redis with its ACL user.
func secureEnv(b *testkit.Broker, certs testkit.Certs, r *testkit.TLSRedis, prefix string) []string {
	return append(testEnv(b.SecureAddr, r.Addr, prefix, "secure"),
		"SEGSTREAM_KAFKA_SASL_MECHANISM=SCRAM-SHA-512",
		"SEGSTREAM_KAFKA_SASL_USERNAME="+secKafkaUser,
		"SEGSTREAM_KAFKA_SASL_PASSWORD="+secKafkaPass,
		"SEGSTREAM_KAFKA_TLS_CA_FILE="+certs.CA,
		"SEGSTREAM_KAFKA_TLS_CERT_FILE="+certs.ClientCert,
		"SEGSTREAM_KAFKA_TLS_KEY_FILE="+certs.ClientKey,
		"SEGSTREAM_REDIS_USERNAME="+secRedisUser,
		"SEGSTREAM_REDIS_PASSWORD="+secRedisPass,
		"SEGSTREAM_REDIS_TLS_CA_FILE="+certs.CA,
		"SEGSTREAM_REDIS_TLS_CERT_FILE="+certs.ClientCert,
		"SEGSTREAM_REDIS_TLS_KEY_FILE="+certs.ClientKey,
	)
}

func newLoggedService(t *testing.T, env []string) (*service.Service, *syncBuffer) {
	t.Helper()
	cfg, err := service.LoadConfig("", env)
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuffer{}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), buf, zap.DebugLevel))
	s, err := service.New(cfg, log, consumer.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	return s, buf
}

// The whole service over SASL_SSL (SCRAM-SHA-512 and a client
// certificate) to a real Apache Kafka and over TLS with an ACL user to a
// real redis-server: events in, every user labelled, documents out on the
// secure listener; no password in any log line. Then a wrong password or
// an untrusted certificate stops the start with its cause.
func TestServiceOverSASLSSLAndRedisTLS(t *testing.T) {
	testkit.NeedModels(t)
	certs := testkit.GenerateCerts(t)
	b := testkit.StartSecureKafka(t, certs, map[string]string{secKafkaUser: secKafkaPass}, 3)
	r := testkit.StartTLSRedis(t, certs, secRedisUser, secRedisPass)
	env := secureEnv(b, certs, r, "sec")

	s, logs := newLoggedService(t, env)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	sv := &svc{Service: s, cancel: cancel, done: done}
	t.Cleanup(func() { sv.stop(t) })

	evs := retailSlice(t, 200)
	users := map[string]bool{}
	var items []replay.Item
	for _, ev := range evs {
		users[ev.UserID] = true
		raw, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, replay.Item{Family: ev.Type.Family(), Key: ev.UserID, Value: raw, TS: ev.TS, Event: ev})
	}
	k := s.Cfg.Kafka.Security
	sctx, scancel := context.WithTimeout(context.Background(), secureTimeout)
	defer scancel()
	if _, err := replay.Send(sctx, items, replay.SendConfig{Brokers: []string{b.SecureAddr}, Security: k, Topics: map[events.Family]string{
		events.FamilyClickstream: "events.clickstream", events.FamilyPurchase: "events.purchases", events.FamilyReview: "events.reviews"}}, nil); err != nil {
		t.Fatal(err)
	}
	waitAllLabelled(t, sv, users)

	// the label documents, read back on the secure listener
	d, err := k.Dialer(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for p := 0; p < 3; p++ {
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.SecureAddr}, Topic: "segments.labels", Partition: p, Dialer: d, MaxWait: 50 * time.Millisecond})
		conn, err := d.DialLeader(sctx, "tcp", b.SecureAddr, "segments.labels", p)
		if err != nil {
			t.Fatal(err)
		}
		end, err := conn.ReadLastOffset()
		_ = conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		for off := int64(0); off < end; off++ {
			m, err := rd.ReadMessage(sctx)
			if err != nil {
				t.Fatalf("segments.labels/%d at %d: %v", p, off, err)
			}
			seen[string(m.Key)] = true
		}
		_ = rd.Close()
	}
	if len(seen) != len(users) {
		t.Errorf("segments.labels holds documents for %d users, want %d", len(seen), len(users))
	}
	sv.stop(t)
	out := logs.String()
	for _, secret := range []string{secKafkaPass, secRedisPass} {
		if strings.Contains(out, secret) {
			t.Errorf("a password is in the log")
		}
	}
	if !strings.Contains(out, `"security":"SASL_SSL"`) {
		t.Errorf("the start does not log the Kafka security protocol:\n%s", out)
	}

	// refused at start, with the cause, within one attempt
	for _, c := range []struct {
		name string
		set  []string
		want string
	}{
		{"Kafka password", []string{"SEGSTREAM_KAFKA_SASL_PASSWORD=" + secWrongPass}, "kafka.sasl: broker " + b.SecureAddr + ` rejected user "segstream"`},
		{"Kafka CA", []string{"SEGSTREAM_KAFKA_TLS_CA_FILE=" + certs.OtherCA}, "kafka.tls.ca_file: the certificate of " + b.SecureAddr},
		{"Redis password", []string{"SEGSTREAM_REDIS_PASSWORD=" + secWrongPass}, `redis.username, redis.password: ` + r.Addr + ` rejected user "segstream-app"`},
		{"Redis CA", []string{"SEGSTREAM_REDIS_TLS_CA_FILE=" + certs.OtherCA}, "redis.tls.ca_file: the certificate of " + r.Addr},
		{"Redis without TLS", []string{"SEGSTREAM_REDIS_TLS_CA_FILE=", "SEGSTREAM_REDIS_TLS_CERT_FILE=", "SEGSTREAM_REDIS_TLS_KEY_FILE="}, "does it need TLS (redis.tls.enabled)"},
		{"Redis client certificate", []string{"SEGSTREAM_REDIS_TLS_CERT_FILE=", "SEGSTREAM_REDIS_TLS_KEY_FILE="}, "redis.tls.cert_file"},
	} {
		s, logs := newLoggedService(t, append(append([]string(nil), env...), c.set...))
		rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := s.Run(rctx)
		rcancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Run returned %v\nwant it to say %q", c.name, err, c.want)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
		if err != nil && strings.Contains(err.Error(), secWrongPass) || strings.Contains(logs.String(), secWrongPass) {
			t.Errorf("%s: the wrong password is shown", c.name)
		}
	}
}

// The environment overrides reach the security options.
func TestSecurityFromEnvironment(t *testing.T) {
	cfg, err := service.LoadConfig("", []string{"SEGSTREAM_KAFKA_BROKERS=k:9093", "SEGSTREAM_KAFKA_SASL_MECHANISM=PLAIN",
		"SEGSTREAM_KAFKA_SASL_USERNAME=u", "SEGSTREAM_KAFKA_SASL_PASSWORD=p", "SEGSTREAM_KAFKA_TLS_ENABLED=true",
		"SEGSTREAM_REDIS_USERNAME=ru", "SEGSTREAM_REDIS_PASSWORD=rp", "SEGSTREAM_REDIS_TLS_SERVER_NAME=redis.internal", "SEGSTREAM_LABELS_ENABLED=false"})
	if err != nil {
		t.Fatal(err)
	}
	want := secure.Kafka{SASL: secure.SASL{Mechanism: "PLAIN", Username: "u", Password: "p"}, TLS: secure.TLS{Enabled: true}}
	if cfg.Kafka.Security != want || cfg.Redis.Username != "ru" || cfg.Redis.Password != "rp" || cfg.Redis.TLS.ServerName != "redis.internal" {
		t.Errorf("%+v %+v", cfg.Kafka.Security, cfg.Redis)
	}
	for _, c := range []struct{ env, want string }{
		{"SEGSTREAM_KAFKA_SASL_MECHANISM=OAUTHBEARER", "kafka.sasl.mechanism"},
		{"SEGSTREAM_REDIS_TLS_CA_FILE=/nonexistent/ca.pem", "redis.tls.ca_file"},
	} {
		_, err := service.LoadConfig("", []string{"SEGSTREAM_KAFKA_BROKERS=k:9093", c.env})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.env, err)
		}
	}
}
