# dat-operator: the DATJob controller.
# Build from the repository root:  docker build -f images/operator.Dockerfile -t ghcr.io/dat-operator/operator:0.1.0 .
# Stage 1 compiles the TypeScript; stage 2 carries only production packages and dist/.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --omit=optional: the operator never loads TensorFlow's native packages.
RUN npm ci --no-audit --no-fund --omit=optional
COPY tsconfig.json ./
COPY worker ./worker
COPY operator ./operator
COPY proto ./proto
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --omit=optional

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY proto ./proto
RUN ln -s /app/bin/dat-operator.js /usr/local/bin/dat-operator
# Non-root, matching the chart's runAsUser; the root filesystem can be mounted read-only.
USER 65532:65532
ENTRYPOINT ["dat-operator"]
