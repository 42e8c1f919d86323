package cli

import (
	"context"
	"os"

	"go.uber.org/zap"

	"github.com/segstream/segstream/consumer"
	"github.com/segstream/segstream/service"
)

func init() {
	register("run", "run the service: consume events, fold profiles into Redis", cmdRun)
}

// commonFlags are the connection flags shared by commands that talk to the
// service's Kafka and Redis; they override the config file and environment.
type commonFlags struct {
	config  string
	brokers string
	redis   string
	prefix  string
}

func (c *commonFlags) add(fs interface {
	StringVar(*string, string, string, string)
}) {
	fs.StringVar(&c.config, "config", "", "YAML config file (SEGSTREAM_* environment variables override it)")
	fs.StringVar(&c.brokers, "brokers", "", "Kafka bootstrap brokers, comma-separated (overrides kafka.brokers)")
	fs.StringVar(&c.redis, "redis", "", "Redis address(es), comma-separated (overrides redis.addrs)")
	fs.StringVar(&c.prefix, "prefix", "", "Redis key prefix (overrides featurestore.prefix)")
}

func (c *commonFlags) load(needBrokers bool) (service.Config, error) {
	env := os.Environ()
	if c.brokers != "" {
		env = append(env, "SEGSTREAM_KAFKA_BROKERS="+c.brokers)
	}
	if c.redis != "" {
		env = append(env, "SEGSTREAM_REDIS_ADDRS="+c.redis)
	}
	if c.prefix != "" {
		env = append(env, "SEGSTREAM_FEATURESTORE_PREFIX="+c.prefix)
	}
	if !needBrokers {
		env = append([]string{"SEGSTREAM_KAFKA_BROKERS=unused:9092"}, env...)
	}
	return service.LoadConfig(c.config, env)
}

func cmdRun(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("run", "[--config FILE] [--brokers ...] [--redis ...]", stderr)
	var cf commonFlags
	cf.add(fs)
	helpEnv := fs.Bool("help-env", false, "list every SEGSTREAM_* environment override and exit")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *helpEnv {
		for _, e := range service.EnvVars() {
			stdout.println(e)
		}
		return nil
	}
	cfg, err := cf.load(true)
	if err != nil {
		return err
	}
	log, err := service.NewLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer syncLog(log, stderr)
	svc, err := service.New(cfg, log, consumer.Hooks{})
	if err != nil {
		return err
	}
	log.Info("segstream starting", zap.Strings("brokers", cfg.Kafka.Brokers), zap.Strings("redis", cfg.Redis.Addrs), zap.String("prefix", cfg.Featurestore.Prefix))
	if err := svc.Run(ctx); err != nil {
		return err
	}
	log.Info("segstream stopped cleanly")
	return nil
}
