#!/usr/bin/env bash
# crds/ is the single source of the CRD; the chart carries a copy (a test checks they are identical).
set -euo pipefail
cd "$(dirname "$0")/.."
cp crds/datjob.yaml charts/dat-operator/crds/datjob.yaml
