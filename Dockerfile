# syntax=docker/dockerfile:1
# inframeter collector image: node agents and gateways (helm/inframeter).
#   docker build -t ghcr.io/inframeter/inframeter:0.1.0 .
#   podman build --build-arg NODE_IMAGE=mirror.example/node:24-bookworm-slim \
#     --build-arg RUNTIME_IMAGE=mirror.example/debian:bookworm-slim -t inframeter .
#
# NODE_IMAGE compiles the TypeScript and installs the production dependencies; the runtime
# image is RUNTIME_IMAGE (the Debian release NODE_IMAGE is built on) with only the `node`
# binary, FreeIPMI, libvirt's client library, node_modules and dist/: no npm, no compiler.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Scripts are not needed to compile (they fetch the `node` devDependency's binary and
# check koffi's prebuilt library, neither of which tsc uses).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY kit kit
COPY service service
COPY receivers receivers
COPY processors processors
COPY exporters exporters
COPY extensions extensions
COPY scripts scripts
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; type declarations, TypeScript sources, source maps and
# documentation of the packages are never read at run time (Node does not run .ts files
# under node_modules).
# DuckDB (70 MB) serves only the `inframeter results` commands, which run where the results
# are analysed, never in a collector: it is left out of the image.
RUN npm ci --omit=dev --no-audit --no-fund \
  && rm -rf node_modules/@duckdb \
  && find node_modules -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \
    -o -name '*.md' \) -delete
# The official `node` binary carries its symbol table (18 MB); the runtime image takes a
# stripped copy (native crash backtraces then show addresses, JavaScript stacks are unchanged).
RUN apt-get update \
  && apt-get install -y --no-install-recommends binutils \
  && strip -o /app/node /usr/local/bin/node \
  && /app/node --version

FROM ${RUNTIME_IMAGE}
# FreeIPMI for the ipmi receiver; libvirt's client library for the libvirt receiver (koffi).
RUN apt-get update \
  && apt-get install -y --no-install-recommends freeipmi-tools libvirt0 ca-certificates \
  && apt-get clean \
  && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log
COPY --from=deps /app/node /usr/local/bin/node
WORKDIR /app
ENV NODE_ENV=production
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# `inframeter` on the PATH too (kubectl exec … inframeter validate).
RUN chmod 0755 /app/dist/service/main.js && ln -s /app/dist/service/main.js /usr/local/bin/inframeter \
  && mkdir -p /var/lib/inframeter/queue && chown -R 10001:10001 /var/lib/inframeter
USER 10001:10001
EXPOSE 4317 4318 8888 9464
ENTRYPOINT ["node", "/app/dist/service/main.js"]
CMD ["run"]
