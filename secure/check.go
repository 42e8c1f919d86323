package secure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
)

// CheckKafka connects to the brokers with the settings (TCP, TLS
// handshake, SASL authentication, a Metadata request) and returns nil at
// the first broker that answers. Otherwise the error says why, naming the
// option to look at (Explain). The service calls it once at start, before
// anything else talks to Kafka, so that a wrong password or an untrusted
// certificate ends the process with its cause instead of being retried.
func CheckKafka(ctx context.Context, brokers []string, k Kafka) error {
	d, err := k.Dialer(10 * time.Second)
	if err != nil {
		return err
	}
	var first error
	for _, b := range brokers {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := checkBroker(cctx, d, b)
		cancel()
		if err == nil {
			return nil
		}
		if first == nil {
			first = explainKafka(err, b, k)
		}
	}
	if first == nil {
		first = errors.New("kafka.brokers: none given")
	}
	return first
}

func checkBroker(ctx context.Context, d *kafka.Dialer, addr string) error {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }() // only metadata was read
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	_, err = c.Brokers()
	return err
}

// explainKafka turns a failed connection into an error naming the cause
// and the option to change. The original error stays wrapped.
func explainKafka(err error, addr string, k Kafka) error {
	if why, ok := explainTLS(err, addr, "kafka.tls", k.TLS); ok {
		return fmt.Errorf("%s: %w", why, err)
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafka.SASLAuthenticationFailed:
			return fmt.Errorf("kafka.sasl: broker %s rejected user %q with %s: wrong username or password (kafka.sasl.username, kafka.sasl.password): %w",
				addr, k.SASL.Username, k.SASL.Mechanism, err)
		case kafka.UnsupportedSASLMechanism:
			return fmt.Errorf("kafka.sasl.mechanism: broker %s does not enable %s on this listener: %w", addr, k.SASL.Mechanism, err)
		case kafka.IllegalSASLState:
			return fmt.Errorf("kafka.sasl: broker %s does not expect SASL on this listener (is kafka.sasl.mechanism set for a listener without SASL?): %w", addr, err)
		}
	}
	if closedEarly(err) {
		return fmt.Errorf("kafka: broker %s closed the connection during set-up (security %s): its listener may use another protocol "+
			"(PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL): check kafka.tls and kafka.sasl against it: %w", addr, k.Protocol(), err)
	}
	var ne net.Error
	if errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &ne) {
		return fmt.Errorf("kafka.brokers: %s does not answer (security %s): %w (is kafka.brokers right and the broker running?)", addr, k.Protocol(), err)
	}
	return fmt.Errorf("kafka: broker %s (security %s): %w", addr, k.Protocol(), err)
}

// ExplainRedis turns a failed Redis PING into an error naming the cause
// and the option to change; user is redis.username.
func ExplainRedis(err error, addrs []string, user string, t TLS) error {
	addr := strings.Join(addrs, ",")
	if why, ok := explainTLS(err, addr, "redis.tls", t); ok {
		return fmt.Errorf("%s: %w", why, err)
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "WRONGPASS"):
		if user == "" {
			user = "default"
		}
		return fmt.Errorf("redis.username, redis.password: %s rejected user %q: wrong username or password, or the user is disabled: %w", addr, user, err)
	case strings.HasPrefix(msg, "NOAUTH"):
		return fmt.Errorf("redis.password: %s requires authentication (redis.username, redis.password): %w", addr, err)
	case strings.HasPrefix(msg, "NOPERM"):
		return fmt.Errorf("redis.username: user %q may not run what segstream needs (its ACL needs all keys of the prefix and +@all, or at least the commands the README lists): %w", user, err)
	}
	if closedEarly(err) && !t.On() {
		return fmt.Errorf("redis %s closed the connection: does it need TLS (redis.tls.enabled)? %w", addr, err)
	}
	return fmt.Errorf("redis %v does not answer: %w (is redis.addrs right and the server running?)", addrs, err)
}

// explainTLS recognises certificate and handshake failures.
func explainTLS(err error, addr, field string, t TLS) (string, bool) {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknown):
		where := "the system's roots"
		if t.CAFile != "" {
			where = t.CAFile
		}
		return fmt.Sprintf("%s.ca_file: the certificate of %s is signed by an authority not in %s (set %s.ca_file to the CA that signed it)", field, addr, where, field), true
	case errors.As(err, &host):
		return fmt.Sprintf("%s.server_name: the certificate of %s is not valid for %q (check the address, or set %s.server_name to a name the certificate holds)", field, addr, host.Host, field), true
	case errors.As(err, &invalid):
		return fmt.Sprintf("%s: the certificate of %s is not valid", field, addr), true
	case errors.As(err, &record):
		return fmt.Sprintf("%s.enabled: %s does not speak TLS on this port (a plaintext listener?)", field, addr), true
	case errors.As(err, &verify):
		return fmt.Sprintf("%s: the certificate of %s failed verification", field, addr), true
	}
	msg := err.Error()
	if strings.Contains(msg, "remote error: tls:") {
		if t.CertFile == "" {
			return fmt.Sprintf("%s.cert_file: %s refused the TLS handshake; it may require a client certificate", field, addr), true
		}
		return fmt.Sprintf("%s.cert_file: %s refused our client certificate %s (is it signed by a CA the server trusts?)", field, addr, t.CertFile), true
	}
	return "", false
}

// closedEarly: the peer hung up while the connection was being set up,
// which is how a TLS listener answers plaintext and a SASL listener a
// client without SASL.
func closedEarly(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
