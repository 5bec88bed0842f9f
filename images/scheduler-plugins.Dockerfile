# scheduler-plugins (sigs.k8s.io/scheduler-plugins, the version pinned in
# scripts/scheduler-plugins/go.mod), built from its Go module by
# scripts/install-scheduler-plugins.sh: static binaries on any base.
# scripts/kind/install-scheduler-plugins.sh stages them as the build context;
# no network is used inside the build. One image serves both Deployments of
# upstream's as-a-second-scheduler chart: the scheduler's sets its command
# (/bin/kube-scheduler, the chart's default), the controller's does not and
# runs the entrypoint.
ARG BASE=debian:trixie-slim
FROM ${BASE}
COPY kube-scheduler controller /bin/
USER 65532:65532
ENTRYPOINT ["/bin/controller"]
