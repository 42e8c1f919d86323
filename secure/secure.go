// Package secure holds the settings of segstream's connections to Kafka
// and Redis that operators of secured clusters need: TLS (a CA file, a
// client certificate, the server name checked by default) and, for Kafka,
// SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). It builds the kafka-go
// dialer and transport and the tls.Config for go-redis from them, and
// checks a connection once at start so that a wrong password or an
// untrusted certificate stops the process with its cause (Check, Explain)
// instead of a retry loop.
//
// Files: secure.go (TLS, SASL, Kafka), check.go (Check, Explain).
//
// Secrets (passwords) are never part of an error or a log line: String
// methods print "set" or "" in their place.
package secure

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// TLS configures TLS for one kind of connection.
type TLS struct {
	// Enabled turns TLS on. It is implied by any of the files below.
	Enabled bool `yaml:"enabled"`
	// CAFile: PEM certificates trusted for the server's chain (default:
	// the system's roots).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile: the client certificate (PEM) and its private
	// key, for servers that require one; both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName checked against the server's certificate (default: the
	// host of the address dialled).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any server certificate. For tests only;
	// the service logs a warning when it is set.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// On reports whether TLS is used.
func (t TLS) On() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != ""
}

// Validate checks the files; field is the option's path ("kafka.tls").
func (t TLS) Validate(field string) error {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return fmt.Errorf("%s: cert_file and key_file go together (a client certificate needs its key)", field)
	}
	_, err := t.Config(field)
	return err
}

// Config returns the tls.Config, or nil when TLS is off. The error names
// the option and the file.
func (t TLS) Config(field string) (*tls.Config, error) {
	if !t.On() {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // an explicit, logged operator choice
	if t.CAFile != "" {
		b, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", field, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%s.ca_file: %s holds no PEM certificate", field, t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file/key_file: %w", field, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// SASL mechanisms.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// SASL configures Kafka's SASL authentication.
type SASL struct {
	// Mechanism: "" (none), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// Password; prefer SEGSTREAM_KAFKA_SASL_PASSWORD to the file.
	Password string `yaml:"password"`
}

// String prints the settings without the password.
func (s SASL) String() string {
	if s.Mechanism == "" {
		return "none"
	}
	pw := ""
	if s.Password != "" {
		pw = " password=set"
	}
	return fmt.Sprintf("%s user=%q%s", s.Mechanism, s.Username, pw)
}

// Validate checks the mechanism and that a user is given.
func (s SASL) Validate(field string) error {
	switch strings.ToUpper(s.Mechanism) {
	case "":
		if s.Username != "" || s.Password != "" {
			return fmt.Errorf("%s.mechanism: a username or password is set but no mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", field)
		}
		return nil
	case Plain, ScramSHA256, ScramSHA512:
	default:
		return fmt.Errorf("%s.mechanism: %q must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", field, s.Mechanism)
	}
	if s.Username == "" {
		return fmt.Errorf("%s.username: required with mechanism %s", field, s.Mechanism)
	}
	if s.Password == "" {
		return fmt.Errorf("%s.password: required with mechanism %s (SEGSTREAM_KAFKA_SASL_PASSWORD)", field, s.Mechanism)
	}
	return nil
}

// mechanism returns the kafka-go mechanism, nil for none.
func (s SASL) mechanism() (sasl.Mechanism, error) {
	switch strings.ToUpper(s.Mechanism) {
	case "":
		return nil, nil
	case Plain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case ScramSHA256:
		return scram.Mechanism(scram.SHA256, s.Username, s.Password)
	case ScramSHA512:
		return scram.Mechanism(scram.SHA512, s.Username, s.Password)
	}
	return nil, fmt.Errorf("sasl: unknown mechanism %q", s.Mechanism)
}

// Kafka is the security of every Kafka connection: consumer, producer,
// dead letters, topic admin and the definitions topic.
type Kafka struct {
	SASL SASL `yaml:"sasl"`
	TLS  TLS  `yaml:"tls"`
}

// Validate checks both parts; field is "kafka".
func (k Kafka) Validate(field string) error {
	if err := k.SASL.Validate(field + ".sasl"); err != nil {
		return err
	}
	return k.TLS.Validate(field + ".tls")
}

// Protocol names the Kafka security protocol in use (PLAINTEXT, SSL,
// SASL_PLAINTEXT, SASL_SSL), for logs.
func (k Kafka) Protocol() string {
	switch {
	case k.SASL.Mechanism != "" && k.TLS.On():
		return "SASL_SSL"
	case k.SASL.Mechanism != "":
		return "SASL_PLAINTEXT"
	case k.TLS.On():
		return "SSL"
	}
	return "PLAINTEXT"
}

// Dialer returns a kafka-go dialer (consumer groups, connections to a
// partition leader, readers) with the settings.
func (k Kafka) Dialer(timeout time.Duration) (*kafka.Dialer, error) {
	m, tc, err := k.parts()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{Timeout: timeout, DualStack: true, SASLMechanism: m, TLS: tc}, nil
}

// Transport returns a kafka-go transport (writers, the admin client) with
// the settings. Each caller gets its own.
func (k Kafka) Transport() (*kafka.Transport, error) {
	m, tc, err := k.parts()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{SASL: m, TLS: tc, Dial: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}, nil
}

// parts builds the SASL mechanism (nil for none) and the TLS configuration
// (nil when off) that dialers and transports share.
func (k Kafka) parts() (sasl.Mechanism, *tls.Config, error) {
	m, err := k.SASL.mechanism()
	if err != nil {
		return nil, nil, err
	}
	tc, err := k.TLS.Config("kafka.tls")
	return m, tc, err
}
