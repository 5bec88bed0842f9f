# Kueue's controller manager (sigs.k8s.io/kueue, the version pinned in
# scripts/kueue/go.mod), built from its Go module by scripts/install-kueue.sh:
# a static binary on any base. scripts/kind/install-kueue.sh stages the
# binary as the build context; no network is used inside the build.
ARG BASE=debian:trixie-slim
FROM ${BASE}
COPY manager /manager
# Kueue's own manifests run it as this user with a read-only root filesystem.
USER 65532:65532
ENTRYPOINT ["/manager"]
