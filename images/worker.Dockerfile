# dat-operator worker (CPU): `dat train` on @tensorflow/tfjs-node (libtensorflow), falling back to wasm.
# Build from the repository root:  docker build -f images/worker.Dockerfile -t ghcr.io/dat-operator/worker:0.1.0 .
# The native binding is built offline from PyPI's tensorflow-cpu wheel by scripts/install-tfjs-node.sh,
# so the build needs only the npm registry and PyPI (air-gapped mirrors of both work).

FROM node:20-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip build-essential ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN bash scripts/install-tfjs-node.sh \
    && npx tsc -p tsconfig.json \
    && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/proto ./proto

RUN ln -s /app/bin/dat.js /usr/local/bin/dat
USER 65532:65532
ENTRYPOINT ["dat"]
