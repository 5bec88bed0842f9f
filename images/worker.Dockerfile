# dat-operator worker (CPU): `dat train` on @tensorflow/tfjs-node (libtensorflow),
# falling back to wasm.
# Built by scripts/images/build-images.sh, which stages the application folder
# (compiled dist/, production node_modules with the native binding built
# offline from PyPI's tensorflow-cpu wheel by scripts/install-tfjs-node.sh,
# bin/, proto/) as the build context; no network is used inside the build.
# BASE is any glibc image with Node.js 20 on PATH: the project's Debian base
# (scripts/images/build-bases.sh) or, with a registry, node:20-bookworm-slim.
ARG BASE=node:20-bookworm-slim
FROM ${BASE}
ENV NODE_ENV=production
WORKDIR /app
COPY app/ /app/
RUN ln -s /app/bin/dat.js /usr/local/bin/dat
USER 65532:65532
ENTRYPOINT ["dat"]
