//go:build tools

// FerretDB's own command, for the bare cluster's mongo stand-in image
// (deploy/bare/images.sh builds it from a vendored copy of this module).
// Listed here so go.mod and go.sum pin everything it needs.
package main

import _ "github.com/FerretDB/FerretDB/cmd/ferretdb"
