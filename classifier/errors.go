package classifier

import (
	"errors"
	"fmt"
)

// ErrSchemaMismatch is matched (errors.Is) by the *SchemaError that Load and
// Decode return when a model file was trained on other features than this
// build computes.
var ErrSchemaMismatch = errors.New("model feature schema does not match this build")

// ErrBadModel is matched by errors of Load and Decode for files that are not
// segstream classifier models or are internally inconsistent.
var ErrBadModel = errors.New("invalid classifier model file")

// SchemaError says how a model file's feature schema differs from the
// build's.
type SchemaError struct {
	Path      string // the file, when loaded from one
	FileHash  string // schema hash in the file
	BuildHash string // schema hash this build computes for the file's text dimension
	Detail    string // first difference found
}

func (e *SchemaError) Error() string {
	where := "model"
	if e.Path != "" {
		where = e.Path
	}
	return fmt.Sprintf("%s: feature schema %s does not match this build's %s (%s); retrain it with `segstream train` or use a binary of the version that wrote it",
		where, e.FileHash, e.BuildHash, e.Detail)
}

// Unwrap makes errors.Is(err, ErrSchemaMismatch) true.
func (e *SchemaError) Unwrap() error { return ErrSchemaMismatch }
