# The two commands of a fresh machine:
#   make demo   - set up, build and run `segstream demo` on embedded defaults
#   make test   - set up, start what the tests need, and run every test
#                 (and the offline checks of deploy/)
GO      ?= go
BIN     := bin/segstream
REDIS   ?= 127.0.0.1:6379
# Replicated Redis for the cluster and WAIT tests (tools/test-redis.sh).
export SEGSTREAM_TEST_REDIS_CLUSTER ?= 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
export SEGSTREAM_TEST_REDIS_REPLICATED ?= 127.0.0.1:7111,127.0.0.1:7112

export CGO_ENABLED := 1

.PHONY: all setup build lint test demo bench redis test-redis clean deploy-check

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

# A Redis Cluster (three masters, a replica each) and a master with a
# replica, for the cluster and replica tests (reused when they answer).
test-redis:
	@./tools/test-redis.sh >/dev/null

# golangci-lint, pinned in tools/lint.sh and built into var/bin on first use;
# the linters are chosen in .golangci.yml.
lint:
	./tools/lint.sh

test: setup redis test-redis
	$(GO) vet ./...
	./tools/lint.sh
	$(GO) test -count=1 -timeout 40m ./...
	./tools/deploy/check.sh

bench: setup build redis
	./$(BIN) bench
	$(GO) test -run XXX -bench . -benchtime 2s ./events ./featurestore

clean:
	rm -rf bin

# Offline checks of deploy/ (Helm chart, Dockerfile, compose, Grafana):
# tools/deploy/check.sh, helm pinned and built into var/bin on first use.
deploy-check:
	./tools/deploy/check.sh
