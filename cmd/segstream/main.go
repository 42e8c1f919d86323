// Command segstream is the one binary of segstream: the service (run), the
// zero-set-up demo, the replay tool and the operator commands. See
// `segstream help` and the README.
package main

import (
	"os"

	"github.com/segstream/segstream/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
