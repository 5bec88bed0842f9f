module github.com/dat-operator/dat-operator/scripts/kind/pause

go 1.24.0
