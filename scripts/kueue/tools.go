//go:build tools

// Package main's tools file pins Kueue's manager command in go.mod/go.sum so
// that scripts/install-kueue.sh can `go build sigs.k8s.io/kueue/cmd/kueue`
// (the classic tools.go pattern; this file is never compiled).
package main

import _ "sigs.k8s.io/kueue/cmd/kueue"
