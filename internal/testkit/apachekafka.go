package testkit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/producer"
	"github.com/segstream/segstream/secure"
)

// ApacheKafka starts a real Apache Kafka broker for the test
// (tools/kafka/broker.sh: KRaft, one combined broker and controller, from
// the jars tools/kafka/setup.sh copied from Maven Central) on free
// loopback ports with its data in the test's temporary folder, creates
// the default topics (partitions each) and the extra ones, and stops it
// when the test ends. It fails under CI, and skips elsewhere, when Java or
// the jars are missing. Readiness is a Metadata round trip (broker.sh).
func ApacheKafka(t testing.TB, partitions int, extraTopics ...string) string {
	t.Helper()
	return StartApacheKafka(t, partitions, extraTopics...).Addr
}

// Broker is a real Apache Kafka broker a test started.
type Broker struct {
	Addr string
	// SecureAddr is the SASL_SSL listener of StartSecureKafka ("" otherwise).
	SecureAddr        string
	port, dir, secure string
}

// StartApacheKafka is ApacheKafka, returning the broker so that the test
// can kill it and start it again.
func StartApacheKafka(t testing.TB, partitions int, extraTopics ...string) *Broker {
	t.Helper()
	return startApacheKafka(t, "", partitions, extraTopics...)
}

func startApacheKafka(t testing.TB, secureDir string, partitions int, extraTopics ...string) *Broker {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		needSetup(t, "java")
	}
	if out, err := exec.Command("bash", RepoFile("tools/kafka/setup.sh"), "--print-lib").Output(); err != nil {
		needSetup(t, "the Kafka jars")
	} else if _, err := os.Stat(strings.TrimSpace(string(out))); err != nil {
		needSetup(t, "the Kafka jars")
	}
	p := freePorts(t, 3)
	b := &Broker{port: strconv.Itoa(p), dir: t.TempDir(), secure: secureDir}
	if secureDir != "" {
		b.SecureAddr = fmt.Sprintf("127.0.0.1:%d", p+2)
	}
	b.Start(t)
	t.Cleanup(func() {
		if out, err := exec.Command("bash", RepoFile("tools/kafka/broker.sh"), "stop", "--port", b.port, "--dir", b.dir).CombinedOutput(); err != nil {
			t.Logf("stopping Apache Kafka: %v\n%s", err, out)
		}
	})
	CreateTopics(t, b.Addr, partitions, append(append([]string(nil), DefaultTopics...), extraTopics...)...)
	return b
}

// Start starts the broker (again, on its data) and waits until it answers.
func (b *Broker) Start(t testing.TB) {
	t.Helper()
	args := []string{RepoFile("tools/kafka/broker.sh"), "start", "--port", b.port, "--dir", b.dir}
	if b.secure != "" {
		args = append(args, "--secure", b.secure)
	}
	out, err := exec.Command("bash", args...).Output()
	if err != nil {
		var stderr string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("starting Apache Kafka (%s): %v\n%s", strings.Join(args, " "), err, stderr)
	}
	b.Addr = strings.TrimSpace(string(out))
}

// Kill sends SIGKILL to the broker's JVM and waits until it is gone.
func (b *Broker) Kill(t testing.TB) {
	t.Helper()
	raw, err := os.ReadFile(b.dir + "/broker.pid")
	if err != nil {
		t.Fatalf("the broker's pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("the broker's pid file: %q", raw)
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("SIGKILL to the broker (pid %d): %v", pid, err)
	}
	for i := 0; i < 200; i++ {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(st), ") Z ") {
			return // gone, or a zombie waiting for its reaper
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the broker (pid %d) outlived SIGKILL by 10s", pid)
}

// CreateTopics creates topics (partitions each, replication 1) on a
// broker and waits until each has a leader, as the service does.
func CreateTopics(t testing.TB, addr string, partitions int, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var cfgs []kafka.TopicConfig
	for _, tp := range topics {
		cfgs = append(cfgs, kafka.TopicConfig{Topic: tp, NumPartitions: partitions, ReplicationFactor: 1})
	}
	if err := producer.EnsureTopics(ctx, []string{addr}, secure.Kafka{}, cfgs...); err != nil {
		t.Fatalf("creating topics %v on %s: %v", topics, addr, err)
	}
}

func needSetup(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s missing: run tools/setup.sh (make test does)", what)
	}
	t.Skipf("%s missing: run tools/setup.sh", what)
}

// freePorts finds a port p such that p...p+n-1 (the controller's, the
// secure listener's) are free on 127.0.0.1.
func freePorts(t testing.TB, n int) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		p := 20000 + rand.IntN(20000)
		ok := true
		for q := p; q < p+n; q++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", q))
			if err != nil {
				ok = false
				break
			}
			_ = ln.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatalf("no %d free neighbouring ports on 127.0.0.1", n)
	return 0
}
