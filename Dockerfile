# syntax=docker/dockerfile:1
# inframeter collector image: node agents and gateways (helm/inframeter).
#   docker build -t ghcr.io/inframeter/inframeter:0.1.0 .

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY service service
COPY receivers receivers
COPY processors processors
COPY exporters exporters
COPY experiments experiments
RUN npm run build

FROM node:24-bookworm-slim
# FreeIPMI for the ipmi receiver; libvirt's client library for the libvirt receiver.
RUN apt-get update \
  && apt-get install -y --no-install-recommends freeipmi-tools libvirt0 ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
RUN mkdir -p /var/lib/inframeter/queue && chown -R 10001:10001 /var/lib/inframeter
USER 10001:10001
EXPOSE 4317 4318 8888 9464
ENTRYPOINT ["node", "/app/dist/service/main.js"]
CMD ["run"]
