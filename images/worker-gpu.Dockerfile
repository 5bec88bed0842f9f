# dat-operator worker (GPU): `dat train` on @tensorflow/tfjs-node-gpu.
# tfjs-node-gpu 4.22 binds libtensorflow 2.9.1, built against CUDA 11.2 and cuDNN 8.1; the CUDA 11.8
# runtime below is the closest maintained base that keeps those libraries' ABI.
# Build from the repository root:
#   docker build -f images/worker-gpu.Dockerfile -t ghcr.io/dat-operator/worker:0.1.0-gpu .
# Untested on the project's CI machines (no GPU, no Docker engine); see docs/native-backend.md.

FROM node:20-bookworm AS node

FROM nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04 AS build
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s /usr/local/lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && apt-get update && apt-get install -y --no-install-recommends python3 python3-pip build-essential ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN bash scripts/install-tfjs-node.sh --gpu \
    && npx tsc -p tsconfig.json \
    && npm prune --omit=dev

FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04
COPY --from=node /usr/local/bin/node /usr/local/bin/node
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
