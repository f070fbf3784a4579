// Package hotel embeds the hotel walkthrough's manifests, so that `lattice-gateway demo` works
// from any directory with a single binary.
package hotel

import "embed"

// Manifests are the *.yaml files of this folder and of standalone/.
//
//go:embed *.yaml standalone/*.yaml
var Manifests embed.FS
