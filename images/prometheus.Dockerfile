# Prometheus for the kind e2e suite: the server built from the
# github.com/prometheus/prometheus Go module by scripts/prometheus/install-prometheus.sh
# (static, CGO off; no web UI assets, the HTTP API is complete), on the
# project's Debian network base (scripts/images/build-bases.sh base-net).
# Built by scripts/images/build-images.sh prometheus; the context holds the binary only.
ARG BASE=debian:trixie-slim
FROM ${BASE}
COPY prometheus /usr/local/bin/prometheus
# The TSDB lives here: the pod mounts an emptyDir over it.
RUN mkdir -p /prometheus /etc/prometheus && chown 65534:65534 /prometheus
WORKDIR /prometheus
USER 65534:65534
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
