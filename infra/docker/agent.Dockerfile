# syntax=docker/dockerfile:1
# The edge agent in a container, for the lab and the compose demo (real endpoints run it natively):
#   docker build -f infra/docker/agent.Dockerfile -t fleetcast/agent .

ARG NODE_IMAGE=node:20-bookworm-slim

# The package manifests alone: the `npm ci` layer below then stays cached while only sources change.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json ! -name .npmrc -delete \
 && find . -mindepth 1 -type d -empty -delete

FROM ${NODE_IMAGE} AS build
# Install scripts run (a native addon would need them); these two only keep third-party
# post-install analytics quiet.
ENV SCARF_ANALYTICS=false DO_NOT_TRACK=1
WORKDIR /src
COPY --from=manifests /src/ ./
RUN npm ci
COPY . .
RUN npx tsc -b agents/agent \
 && npm prune --omit=dev

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/libs ./libs
COPY --from=build /src/agents/agent ./agents/agent
# Device identity and the distribution cache; owned by the runtime user so a fresh volume is writable.
RUN mkdir -p /var/lib/fleetcast/agent && chown node:node /var/lib/fleetcast/agent
USER node
# Options (--nats, --cache-dir, --config, --device-id) are appended by `docker run` or compose.
ENTRYPOINT ["node", "agents/agent/dist/src/cli.js"]
