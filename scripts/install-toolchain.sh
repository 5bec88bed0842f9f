#!/usr/bin/env bash
# Installs the Kubernetes toolchain used by the integration and e2e tests
# (kube-apiserver, kube-controller-manager, etcd, kubectl, helm) into
#   ${DAT_TOOLCHAIN_DIR:-$HOME/.cache/dat-operator/toolchain}/<version>/bin
# where <version> is scripts/toolchain/VERSION. Everything is built from the
# Go modules pinned in scripts/toolchain/go.mod (no prebuilt downloads exist
# on our machines). Idempotent: when the binaries with the pinned versions are
# already there it does nothing and prints nothing.
#
# Bump scripts/toolchain/VERSION whenever go.mod, main.go or the flags below
# change, so that cached installs are rebuilt.
set -euo pipefail

readonly SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly MODULE_DIR="${SCRIPT_DIR}/toolchain"
readonly VERSION="$(tr -d '[:space:]' < "${MODULE_DIR}/VERSION")"
readonly TOOLCHAIN_ROOT="${DAT_TOOLCHAIN_DIR:-${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.cache/dat-operator/toolchain}"
readonly BIN_DIR="${TOOLCHAIN_ROOT}/${VERSION}/bin"
readonly STAMP="${BIN_DIR}/.installed"

# Pinned versions, checked against each binary's own --version output.
readonly K8S_VERSION="v1.34.4"
readonly ETCD_VERSION="3.6.4"
readonly HELM_VERSION="v3.19.5"
readonly MULTI_CALL="dat-toolchain"
readonly MULTI_CALL_NAMES=(kube-apiserver kube-controller-manager kubectl etcd kubelet kubeadm kube-scheduler kube-proxy)

log() { printf 'install-toolchain: %s\n' "$*" >&2; }

# True when every binary is present and reports the pinned version.
installed_ok() {
  [[ -f "${STAMP}" && "$(cat "${STAMP}")" == "${VERSION}" ]] || return 1
  local name
  for name in "${MULTI_CALL_NAMES[@]}" helm; do
    [[ -x "${BIN_DIR}/${name}" ]] || return 1
  done
  # Outputs are captured before matching: with pipefail, `cmd | grep -q` fails when grep exits early (SIGPIPE).
  local out
  out="$("${BIN_DIR}/kube-apiserver" --version 2>/dev/null)" || return 1
  [[ "${out}" == "Kubernetes ${K8S_VERSION}" ]] || return 1
  out="$("${BIN_DIR}/etcd" --version 2>/dev/null)" || return 1
  [[ "${out}" == *"etcd Version: ${ETCD_VERSION}"* ]] || return 1
  out="$("${BIN_DIR}/helm" version --short 2>/dev/null)" || return 1
  [[ "${out}" == "${HELM_VERSION}" || "${out}" == "${HELM_VERSION}+"* ]] || return 1
}

if installed_ok; then
  exit 0
fi

command -v go >/dev/null || { log "error: the Go toolchain (go >= 1.24) is required"; exit 1; }

readonly start_s="${SECONDS}"
log "building toolchain ${VERSION} into ${BIN_DIR} (cold build takes a while)"
mkdir -p "${BIN_DIR}"
rm -f "${STAMP}"
tmp_dir="$(mktemp -d "${TOOLCHAIN_ROOT}/${VERSION}/build.XXXXXX")"
trap 'rm -rf "${tmp_dir}"' EXIT

build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
k8s_minor="${K8S_VERSION#v1.}"; k8s_minor="${k8s_minor%%.*}"
# Version stamps: kube-apiserver derives its binary/emulation version from
# these; helm reports its own and defaults .Capabilities.KubeVersion to them.
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${k8s_minor}"
  k8s_ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${build_date}"
done
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
helm_ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${k8s_minor}"
helm_ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${k8s_minor}"

cd "${MODULE_DIR}"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
log "go build ${MULTI_CALL} (kube-apiserver, kube-controller-manager, kubectl, etcd ${ETCD_VERSION})"
go build -trimpath -ldflags "${k8s_ldflags}" -o "${tmp_dir}/${MULTI_CALL}" .
log "go build helm ${HELM_VERSION}"
go build -trimpath -ldflags "${helm_ldflags}" -o "${tmp_dir}/helm" helm.sh/helm/v3/cmd/helm

mv -f "${tmp_dir}/${MULTI_CALL}" "${tmp_dir}/helm" "${BIN_DIR}/"
for name in "${MULTI_CALL_NAMES[@]}"; do
  ln -sfn "${MULTI_CALL}" "${BIN_DIR}/${name}"
done
printf '%s\n' "${VERSION}" > "${STAMP}"
installed_ok || { log "error: built binaries do not report the pinned versions"; exit 1; }
log "done in $((SECONDS - start_s))s: ${BIN_DIR}"
