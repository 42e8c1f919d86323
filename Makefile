# The two commands of a fresh machine:
#   make demo   - set up, build and run `segstream demo` on embedded defaults
#   make test   - set up, start what the tests need, and run every test
GO      ?= go
BIN     := bin/segstream
REDIS   ?= 127.0.0.1:6379
# The Redis Cluster test runs on three local masters (tools/redis-cluster.sh).
export SEGSTREAM_TEST_REDIS_CLUSTER ?= 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103

export CGO_ENABLED := 1

.PHONY: all setup build test demo bench redis redis-cluster clean

all: build

setup:
	./tools/setup.sh

build:
	$(GO) build -o $(BIN) ./cmd/segstream

demo: setup build
	./$(BIN) demo

# Tests use the Redis server on $(REDIS) (started here when it does not answer).
redis:
	@redis-cli -u redis://$(REDIS) ping >/dev/null 2>&1 || { \
	  echo "starting redis-server on $(REDIS)"; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port $(lastword $(subst :, ,$(REDIS))) --save "" --appendonly no; \
	  for i in $$(seq 50); do redis-cli -u redis://$(REDIS) ping >/dev/null 2>&1 && break; sleep 0.1; done; }

# A three-master Redis Cluster for TestRedisClusterEndToEnd (reused when it answers).
redis-cluster:
	@./tools/redis-cluster.sh >/dev/null

test: setup redis redis-cluster
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...

bench: setup build redis
	./$(BIN) bench
	$(GO) test -run XXX -bench . -benchtime 2s ./events ./featurestore

clean:
	rm -rf bin
