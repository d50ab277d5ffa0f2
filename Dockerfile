# syntax=docker/dockerfile:1
# One image for the five Roomcast services; compose.yaml picks the service with
# `command` (node dist/services/<name>/main.js; the catalogue is catalog).
# Debian slim, not Alpine: uWebSockets.js ships a native binary built for glibc
# and Node 20.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY config ./config
COPY shared ./shared
COPY services ./services
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# package.json maps the #shared/* and #config/* imports to dist/.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8090
CMD ["node", "dist/services/gateway/main.js"]
