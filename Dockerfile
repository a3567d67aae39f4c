# One image for every service; the command names the service (see docker-compose.yml).
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary is reachable.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# ftp-srv is vendored (file:vendor/ftp-srv): npm ci links it, so it must be there first.
COPY vendor ./vendor
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY config ./config
COPY shared ./shared
COPY services ./services
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
# glibc's per-thread malloc arenas fragment under libvips' threads; two keep RSS flat (see README).
ENV NODE_ENV=production DATA_DIR=/data MALLOC_ARENA_MAX=2
COPY --from=build /app /app
RUN mkdir -p /data && chown node:node /data
USER node
ENTRYPOINT ["node", "dist/services/main.js"]
