package cli

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/google/pprof/profile"
	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/replay"
	"github.com/segstream/segstream/service"
)

func init() {
	register("bench-labels", "measure event-to-label latency of the whole pipeline at a steady rate", cmdBenchLabels)
}

func cmdBenchLabels(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("bench-labels", "[--rate 0] [--share 0.25] [--seconds 20] [--coalesce 50ms] [--workers 2] [--encode=false] [--fold=false] [--cpuprofile F] [--trace F]", stderr)
	rate := fs.Float64("rate", 0, "steady events per second offered to the pipeline (0: --share of the fold-only rate measured first)")
	share := fs.Float64("share", 0.25, "with --rate 0: the share of the fold-only rate to offer")
	seconds := fs.Float64("seconds", 20, "how long to send")
	foldEvents := fs.Int("fold-events", 300000, "events pre-loaded for the fold-only measurement")
	fold := fs.Bool("fold", true, "measure the fold-only rate first (labels off, a pre-loaded topic, as fast as the fold goes)")
	coalesce := fs.Duration("coalesce", 50*time.Millisecond, "labels.coalesce")
	workers := fs.Int("workers", 2, "labels.workers")
	encode := fs.Bool("encode", true, "run the text encoder (interests); false: labels without embeddings")
	redisAddr := fs.String("redis", "127.0.0.1:6379", "Redis server (a unique key prefix is used and deleted)")
	brokers := fs.String("brokers", "", "use this broker instead of an embedded one")
	retail := fs.Bool("retail", false, "replay the full Online Retail history as fast as possible instead (encodes per 100 events)")
	cpuProfile := fs.String("cpuprofile", "", "also write the measuring process's CPU profile (the service) to this file")
	traceFile := fs.String("trace", "", "also write an execution trace of the service while the stream runs to this file (go tool trace; -pprof=sched|net|sync shows where goroutines wait)")
	sender := fs.Bool("sender", false, "internal: be the sending process that the measuring process starts")
	count := fs.Int("count", 0, "internal (--sender): send this many events as fast as possible")
	topicPrefix := fs.String("topic-prefix", "", "internal (--sender): prefix of the input topics")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *sender {
		return benchSend(ctx, *brokers, *rate, *seconds, *count, *topicPrefix, *retail, stdout, stderr)
	}
	if *rate <= 0 && (!*fold || *retail) {
		return errors.New("bench-labels: give --rate, or keep --fold to offer a share of the fold-only rate")
	}
	addr := *brokers
	if addr == "" {
		c, a, err := startBrokerProcess(ctx, 6, stderr)
		if err != nil {
			return err
		}
		defer c()
		addr = a
	}
	rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
	defer stderr.cleanup("closing Redis", rdb.Close)
	run := benchRun{ctx: ctx, addr: addr, redisAddr: *redisAddr, rdb: rdb, stderr: stderr}

	if *fold && !*retail {
		fr, err := run.foldOnly(*foldEvents)
		if err != nil {
			return err
		}
		stdout.printf("fold only              %d events in %s: %.0f events/s (labels off, pre-loaded topics; service %.2f cores, Redis %.2f cores)\n",
			*foldEvents, fr.wall.Round(time.Millisecond), fr.perSec, fr.cpu.Seconds()/fr.wall.Seconds(), fr.redisCPU.Seconds()/fr.wall.Seconds())
		if *rate <= 0 {
			*rate = math.Round(fr.perSec * *share)
			stdout.printf("offered                %.0f events/s (%.2f of the fold-only rate)\n", *rate, *share)
		} else {
			stdout.printf("offered                %.0f events/s (%.2f of the fold-only rate)\n", *rate, *rate/fr.perSec)
		}
	}

	prefix := fmt.Sprintf("benchl%08x", rand.Uint32())
	defer stderr.cleanup("deleting the benchmark's keys under "+prefix, func() error {
		return keyspace.DeletePrefix(context.Background(), rdb, prefix)
	})
	svc, done, stop, err := run.startService(prefix, "", []string{
		"SEGSTREAM_LABELS_COALESCE=" + coalesce.String(),
		"SEGSTREAM_LABELS_WORKERS=" + strconv.Itoa(*workers), "SEGSTREAM_LABELS_ENCODE=" + strconv.FormatBool(*encode),
	})
	if err != nil {
		return err
	}
	defer stop()

	// the events come from a process of their own, so the sender's CPU is
	// not the pipeline's
	snd, err := startSender(ctx, addr, *rate, *seconds, 0, "", *retail, stderr)
	if err != nil {
		return err
	}
	<-snd.sending
	t0 := time.Now()
	cpu0 := processCPU()
	redis0 := redisCPU(ctx, rdb)
	var prof bytes.Buffer
	if err := pprof.StartCPUProfile(&prof); err != nil {
		return err
	}
	profiling := true
	var traceBuf bytes.Buffer
	if *traceFile != "" {
		if err := trace.Start(&traceBuf); err != nil {
			return err
		}
		defer trace.Stop() // a no-op once stopped
	}
	defer func() {
		if profiling {
			pprof.StopCPUProfile()
		}
	}()
	sent, sendEl, senderCPU, err := snd.wait()
	if err != nil {
		return err
	}
	sendEnd := time.Now()
	cpuSend := processCPU() - cpu0
	if *traceFile != "" {
		trace.Stop()
		if err := os.WriteFile(*traceFile, traceBuf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	// drain: everything folded and labelled, then the encoder's queue
	var labelsDone, interestsDone time.Time
	for interestsDone.IsZero() {
		in := counter(svc.Registry, "segstream_consumer_events_in_total", "")
		lab, intr, err := svc.Labels.Backlog(ctx)
		if err == nil && int(in) >= sent && lab == 0 {
			if labelsDone.IsZero() {
				labelsDone = time.Now()
			}
			if intr == 0 {
				interestsDone = time.Now()
			}
		}
		if err := pause(ctx, done, 10*time.Millisecond); err != nil {
			return err
		}
	}
	pprof.StopCPUProfile()
	profiling = false
	cpu := processCPU() - cpu0
	rcpu := redisCPU(ctx, rdb) - redis0
	wall := interestsDone.Sub(t0)
	stop()
	if err := <-done; err != nil { // everything is labelled: report it, the measurement stands
		stderr.printf("bench-labels: service stopped with an error: %v\n", err)
	}
	if *cpuProfile != "" {
		if err := os.WriteFile(*cpuProfile, prof.Bytes(), 0o644); err != nil {
			return err
		}
	}
	p50, p99 := histQuantile(svc.Registry, "segstream_labels_event_to_label_seconds", 0.5), histQuantile(svc.Registry, "segstream_labels_event_to_label_seconds", 0.99)
	enc := counter(svc.Registry, "segstream_labels_encodes_total", "")
	ev := counter(svc.Registry, "segstream_labels_evaluated_total", "")
	labelsWall := labelsDone.Sub(t0)
	stdout.printf("events sent            %d in %s (%.0f/s offered) by a separate process using %.1f s of CPU\n", sent, sendEl.Round(time.Millisecond), float64(sent)/sendEl.Seconds(), senderCPU.Seconds())
	stdout.printf("labels drained         %s after the stream stopped (%.0f events/s end to end)\n", labelsDone.Sub(sendEnd).Round(time.Millisecond), float64(sent)/labelsWall.Seconds())
	stdout.printf("interests drained      %s after the stream stopped (encoder queue empty)\n", interestsDone.Sub(sendEnd).Round(time.Millisecond))
	stdout.printf("event-to-label latency p50 %s  p99 %s (interpolated in histogram buckets)\n", p50, p99)
	stdout.printf("event-to-fold latency  p50 %s  p99 %s (a batch's oldest event to the batch in Redis); intake paused %.0f times\n",
		histQuantile(svc.Registry, "segstream_consumer_event_to_fold_seconds", 0.5), histQuantile(svc.Registry, "segstream_consumer_event_to_fold_seconds", 0.99),
		counter(svc.Registry, "segstream_labels_intake_pauses_total", ""))
	stdout.printf("evaluations            %.0f (%.1f per 100 events; %.0f labels/s while labelling)\n", ev, 100*ev/float64(sent), ev/labelsWall.Seconds())
	evN, _ := histCount(svc.Registry, "segstream_labels_evaluate_seconds")
	foldN, _ := histCount(svc.Registry, "segstream_consumer_fold_seconds")
	stdout.printf("evaluate batches       %d (%.0f users each), p50 %s p99 %s; fold batches %d (%.0f events each), p50 %s p99 %s\n",
		evN, ev/math.Max(1, float64(evN)), histQuantile(svc.Registry, "segstream_labels_evaluate_seconds", 0.5), histQuantile(svc.Registry, "segstream_labels_evaluate_seconds", 0.99),
		foldN, float64(sent)/math.Max(1, float64(foldN)), histQuantile(svc.Registry, "segstream_consumer_fold_seconds", 0.5), histQuantile(svc.Registry, "segstream_consumer_fold_seconds", 0.99))
	stdout.printf("encodes                %.0f (%.1f per 100 events), coalesce %s, workers %d, encoder %v\n", enc, 100*enc/float64(sent), *coalesce, *workers, *encode)
	stdout.printf("labels published       %.0f, changes %.0f\n", counter(svc.Registry, "segstream_labels_published_total", ""), counter(svc.Registry, "segstream_labels_changes_total", ""))
	stdout.printf("Redis CPU              %.1f s (%.2f cores)\n", rcpu.Seconds(), rcpu.Seconds()/wall.Seconds())
	stdout.printf("service CPU            %.2f cores while the stream ran; peak RSS %.0f MiB (the encoder's models included)\n",
		cpuSend.Seconds()/sendEnd.Sub(t0).Seconds(), float64(peakRSS())/(1<<20))
	stdout.printf("service CPU            %.1f s in %s (%.2f cores)%s\n", cpu.Seconds(), wall.Round(time.Millisecond), cpu.Seconds()/wall.Seconds(), stageCPU(prof.Bytes()))
	return nil
}

// benchRun holds what the phases of bench-labels share.
type benchRun struct {
	ctx       context.Context
	addr      string
	redisAddr string
	rdb       *redis.Client
	stderr    *output
}

// startService runs the service on the benchmark's broker and Redis with
// its own group and key prefix; topicPrefix names other input topics.
// It returns once every input partition is assigned.
func (b benchRun) startService(prefix, topicPrefix string, extra []string) (*service.Service, chan error, func(), error) {
	// SEGSTREAM_* tuning variables of this process apply on top (e.g.
	// SEGSTREAM_LABELS_ENCODE_BATCH=16): they come last and win; those that
	// say where things are stay the benchmark's own
	env := []string{
		"SEGSTREAM_KAFKA_BROKERS=" + b.addr, "SEGSTREAM_KAFKA_GROUP_ID=" + prefix,
		"SEGSTREAM_KAFKA_HEARTBEAT_INTERVAL=500ms", "SEGSTREAM_KAFKA_SESSION_TIMEOUT=10s", "SEGSTREAM_KAFKA_JOIN_GROUP_BACKOFF=100ms",
		"SEGSTREAM_REDIS_ADDRS=" + b.redisAddr, "SEGSTREAM_FEATURESTORE_PREFIX=" + prefix, "SEGSTREAM_HTTP_LISTEN=off", "SEGSTREAM_API_LISTEN=off",
		"SEGSTREAM_ENCODER_MODEL_DIR=" + service.RepoFile("var/models/use-lite"),
		"SEGSTREAM_ENCODER_LIBRARY_PATH=" + service.RepoFile("var/lib/libonnxruntime.so.1"),
	}
	if topicPrefix != "" {
		env = append(env, "SEGSTREAM_KAFKA_TOPICS_CLICKSTREAM="+topicPrefix+"events.clickstream", "SEGSTREAM_KAFKA_TOPICS_PURCHASES="+topicPrefix+"events.purchases",
			"SEGSTREAM_KAFKA_TOPICS_REVIEWS="+topicPrefix+"events.reviews", "SEGSTREAM_KAFKA_TOPICS_DLQ="+topicPrefix+"events.dlq")
	}
	cfg, err := service.LoadConfig("", append(append(env, extra...), tuningEnv()...))
	if err != nil {
		return nil, nil, nil, err
	}
	svc, err := service.New(cfg, nil, consumer.Hooks{})
	if err != nil {
		return nil, nil, nil, err
	}
	sctx, stop := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(sctx) }()
	// joined: every input partition assigned
	for n := 0; n < 3*cfg.Kafka.Partitions; {
		n = 0
		for _, ps := range svc.Consumer.Assigned() {
			n += len(ps)
		}
		if err := pause(b.ctx, done, 20*time.Millisecond); err != nil {
			stop()
			return nil, nil, nil, err
		}
	}
	return svc, done, stop, nil
}

// foldResult is the fold-only measurement.
type foldResult struct {
	wall, cpu, redisCPU time.Duration
	perSec              float64
}

// foldOnly pre-loads n events on topics of their own, then lets a
// service with the label stage off fold them as fast as it can: the rate
// the label stage is measured against, in the same run.
func (b benchRun) foldOnly(n int) (foldResult, error) {
	const topics = "fold."
	snd, err := startSender(b.ctx, b.addr, 0, 0, n, topics, false, b.stderr)
	if err != nil {
		return foldResult{}, err
	}
	sent, _, _, err := snd.wait()
	if err != nil {
		return foldResult{}, err
	}
	prefix := fmt.Sprintf("benchf%08x", rand.Uint32())
	defer b.stderr.cleanup("deleting the fold measurement's keys under "+prefix, func() error {
		return keyspace.DeletePrefix(context.Background(), b.rdb, prefix)
	})
	// the group joins first (its partitions assigned), then the clock starts
	svc, done, stop, err := b.startService(prefix, topics, []string{"SEGSTREAM_LABELS_ENABLED=false", "SEGSTREAM_KAFKA_START_OFFSET=earliest"})
	if err != nil {
		return foldResult{}, err
	}
	defer stop()
	t0, cpu0, r0 := time.Now(), processCPU(), redisCPU(b.ctx, b.rdb)
	for int(counter(svc.Registry, "segstream_consumer_events_in_total", "")) < sent {
		if err := pause(b.ctx, done, 5*time.Millisecond); err != nil {
			return foldResult{}, err
		}
	}
	// folded is not yet durable: the last batches finish their writes
	for counter(svc.Registry, "segstream_featurestore_events_total", "") < float64(sent) {
		if err := pause(b.ctx, done, 5*time.Millisecond); err != nil {
			return foldResult{}, err
		}
	}
	wall := time.Since(t0)
	res := foldResult{wall: wall, cpu: processCPU() - cpu0, redisCPU: redisCPU(b.ctx, b.rdb) - r0, perSec: float64(sent) / wall.Seconds()}
	stop()
	if err := <-done; err != nil {
		b.stderr.printf("bench-labels: fold-only service stopped with an error: %v\n", err)
	}
	return res, nil
}

// redisCPU is the Redis server's user and system CPU time so far (INFO
// cpu), 0 when it cannot be read.
func redisCPU(ctx context.Context, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			x, _ := strconv.ParseFloat(v, 64)
			total += x
		}
	}
	return time.Duration(total * float64(time.Second))
}

// pause waits d, or returns why the measurement cannot go on: the
// interrupt, or the service stopping by itself.
func pause(ctx context.Context, done <-chan error, d time.Duration) error {
	select {
	case err := <-done:
		if ctx.Err() != nil {
			return ctx.Err() // interrupted, not a failure of what we measure
		}
		return stoppedEarly("service stopped", err)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// tuningEnv is this process's SEGSTREAM_* environment less the variables
// that place the benchmark (brokers, group, Redis, prefix, HTTP).
func tuningEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case !strings.HasPrefix(k, service.EnvPrefix), k == "SEGSTREAM_KAFKA_BROKERS", k == "SEGSTREAM_KAFKA_GROUP_ID",
			strings.HasPrefix(k, "SEGSTREAM_REDIS_"), k == "SEGSTREAM_FEATURESTORE_PREFIX", k == "SEGSTREAM_HTTP_LISTEN":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// sendProcess is the sending child of bench-labels.
type sendProcess struct {
	cmd     *exec.Cmd
	out     *bufio.Reader
	sending chan struct{}
	summary chan string
}

// startSender starts `segstream bench-labels --sender`; sending closes when
// its events are read and it starts to send.
func startSender(ctx context.Context, addr string, rate, seconds float64, count int, topicPrefix string, retail bool, stderr *output) (*sendProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "bench-labels", "--sender", "--brokers", addr,
		"--rate", strconv.FormatFloat(rate, 'f', -1, 64), "--seconds", strconv.FormatFloat(seconds, 'f', -1, 64), "--retail="+strconv.FormatBool(retail),
		"--count", strconv.Itoa(count), "--topic-prefix", topicPrefix)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = stderr.w // its progress bar, written by the child itself
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the sender process: %w", err)
	}
	p := &sendProcess{cmd: cmd, out: bufio.NewReader(out), sending: make(chan struct{}), summary: make(chan string, 1)}
	go func() {
		first := true
		for {
			line, err := p.out.ReadString('\n')
			if strings.HasPrefix(line, "sending") && first {
				first = false
				close(p.sending)
			}
			if strings.HasPrefix(line, "sent ") {
				p.summary <- strings.TrimSpace(line)
			}
			if err != nil {
				if first {
					close(p.sending)
				}
				close(p.summary)
				return
			}
		}
	}()
	return p, nil
}

// wait returns what the sender sent, how long it took and its CPU time.
func (p *sendProcess) wait() (sent int, el time.Duration, cpu time.Duration, err error) {
	line, ok := <-p.summary
	if werr := p.cmd.Wait(); werr != nil {
		return 0, 0, 0, fmt.Errorf("the sender process failed: %w", werr)
	}
	if !ok {
		return 0, 0, 0, errors.New("the sender process ended without its summary")
	}
	var secs float64
	if _, err := fmt.Sscanf(line, "sent %d in %gs", &sent, &secs); err != nil {
		return 0, 0, 0, fmt.Errorf("sender summary %q: %w", line, err)
	}
	st := p.cmd.ProcessState
	return sent, time.Duration(secs * float64(time.Second)), st.UserTime() + st.SystemTime(), nil
}

// benchSend is the sender process: the same events as before, shuffled over
// users at a steady rate (or the retail history as fast as possible).
func benchSend(ctx context.Context, addr string, rate, seconds float64, count int, topicPrefix string, retail bool, stdout, stderr *output) error {
	if addr == "" {
		return errors.New("--sender needs --brokers")
	}
	n := int(rate * seconds)
	if count > 0 {
		n, rate = count, 0 // a pre-load, as fast as possible
	}
	var items []replay.Item
	var sc replay.SendConfig
	var err error
	if retail {
		if items, _, err = replay.ReadRetail(retailFiles(), replay.RetailOptions{}); err != nil {
			return err
		}
	} else {
		if items, _, err = benchEvents(n); err != nil {
			return err
		}
		// spread the users: a steady stream over many users, as in production
		rand.New(rand.NewPCG(1, 1)).Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		sc.Rate = rate
	}
	sc.Brokers = []string{addr}
	sc.Topics = map[events.Family]string{events.FamilyClickstream: topicPrefix + "events.clickstream", events.FamilyPurchase: topicPrefix + "events.purchases",
		events.FamilyReview: topicPrefix + "events.reviews"}
	if topicPrefix != "" {
		var names []string
		for _, t := range sc.Topics {
			names = append(names, t)
		}
		if err := service.EnsureTopics(ctx, service.KafkaConfig{Config: consumer.Config{Brokers: sc.Brokers}}, service.TopicConfigs(names, 6, 1)...); err != nil {
			return err
		}
	}
	sc.Progress = stderr
	sc.Label = "send"
	stdout.printf("sending %d events\n", len(items))
	t0 := time.Now()
	snd, err := replay.Send(ctx, items, sc, nil)
	if err != nil {
		return err
	}
	stdout.printf("sent %d in %gs\n", snd.Sent, time.Since(t0).Seconds())
	return nil
}

// processCPU is this process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// stageCPU sums a CPU profile's samples by their "stage" label (set by the
// consumer, the label stage's loops and the encoder). Samples of threads
// that are not Go's (ONNX Runtime's pool) come as runtime._ExternalCode.
func stageCPU(raw []byte) string {
	p, err := profile.Parse(bytes.NewReader(raw))
	if err != nil || len(p.SampleType) < 2 {
		return ""
	}
	by := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[1] // cpu nanoseconds
		total += v
		name := "other (runtime, GC, Kafka and Redis clients)"
		if st := s.Label["stage"]; len(st) > 0 {
			name = st[0]
		} else if len(s.Location) > 0 && len(s.Location[0].Line) > 0 && s.Location[0].Line[0].Function.Name == "runtime._ExternalCode" {
			name = "onnxruntime threads"
		}
		by[name] += v
	}
	if total == 0 {
		return ""
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return by[names[i]] > by[names[j]] })
	var b strings.Builder
	b.WriteString("; by stage (CPU profile):")
	for _, n := range names {
		_, _ = fmt.Fprintf(&b, "\n    %-46s %6.1f s  %3.0f%%", n, float64(by[n])/1e9, 100*float64(by[n])/float64(total))
	}
	return b.String()
}

// histQuantile interpolates quantile q of a histogram in the registry.
func histQuantile(g prometheus.Gatherer, name string, q float64) time.Duration {
	mfs, _ := g.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		total := float64(h.GetSampleCount())
		if total == 0 {
			return 0
		}
		rank := q * total
		prevBound, prevCount := 0.0, 0.0
		for _, b := range h.GetBucket() {
			c := float64(b.GetCumulativeCount())
			if c >= rank {
				frac := 0.0
				if c > prevCount {
					frac = (rank - prevCount) / (c - prevCount)
				}
				return time.Duration((prevBound + frac*(b.GetUpperBound()-prevBound)) * float64(time.Second)).Round(time.Millisecond)
			}
			prevBound, prevCount = b.GetUpperBound(), c
		}
		return time.Duration(math.Inf(1))
	}
	return 0
}

// histCount is a histogram's sample count and sum.
func histCount(g prometheus.Gatherer, name string) (uint64, float64) {
	mfs, _ := g.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	return 0, 0
}
