//go:build tools

// Package main's tools file keeps helm's command in go.mod/go.sum so that
// install-toolchain.sh can `go build helm.sh/helm/v3/cmd/helm` with the same
// pinned Kubernetes modules (the classic tools.go pattern).
package main

import _ "helm.sh/helm/v3/cmd/helm"
