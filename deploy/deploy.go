// Package deploy holds what ships with the binary besides code: the
// default segment definitions (segments/*.yaml, the built-in taxonomy).
// The other files here (segstream.yaml) are examples for operators.
package deploy

import "embed"

// Segments holds segments/*.yaml.
//
//go:embed segments/*.yaml
var Segments embed.FS
