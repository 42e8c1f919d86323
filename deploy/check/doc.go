// Package check holds the offline checks of the deploy kit (deploy/): the
// Helm chart rendered with the helm binary and decoded strictly into the
// Kubernetes, prometheus-operator and KEDA API types, the rendered service
// config loaded by the service's own loader (the segstream binary built
// from ../..), deploy/Dockerfile parsed with BuildKit's parser, and
// deploy/compose/compose.yaml loaded with compose-go together with the
// Prometheus config and the Grafana dashboard, whose metric names are
// checked against the service's Go sources.
//
// It is its own module so that the main module's go.mod stays free of
// these dependencies. Run it with tools/deploy/check.sh (make deploy-check),
// which installs the pinned helm into var/bin. Nothing here needs a Docker
// engine or a cluster.
package check
