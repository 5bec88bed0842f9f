# dat-operator: the DATJob controller.
# Built by scripts/images/build-images.sh, which stages the application folder
# (compiled dist/, production node_modules without TensorFlow's native
# packages, bin/, proto/) as the build context; no network is used inside the
# build. BASE is any image with Node.js 20 on PATH: the project's Debian base
# (scripts/images/build-bases.sh) or, with a registry, node:20-bookworm-slim.
ARG BASE=node:20-bookworm-slim
FROM ${BASE}
ENV NODE_ENV=production
WORKDIR /app
COPY app/ /app/
RUN ln -s /app/bin/dat-operator.js /usr/local/bin/dat-operator
# Non-root, matching the chart's runAsUser; the root filesystem can be mounted read-only.
USER 65532:65532
ENTRYPOINT ["dat-operator"]
