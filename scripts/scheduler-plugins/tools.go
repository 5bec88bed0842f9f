//go:build tools

// Package main's tools file pins the scheduler-plugins commands in
// go.mod/go.sum so that scripts/install-scheduler-plugins.sh can
// `go build` them (the tools.go pattern, as in scripts/kueue; never compiled).
package main

import (
	_ "sigs.k8s.io/scheduler-plugins/cmd/controller"
	_ "sigs.k8s.io/scheduler-plugins/cmd/scheduler"
)
