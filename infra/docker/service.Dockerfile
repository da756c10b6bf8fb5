# syntax=docker/dockerfile:1
# One image per control-plane service, built from the workspace root:
#   docker build -f infra/docker/service.Dockerfile --build-arg SERVICE=tasks -t fleetcast/tasks .
# (infra/docker-compose.yml does this for every service.)

ARG NODE_IMAGE=node:20-bookworm-slim

# The package manifests alone: the `npm ci` layer below then stays cached while only sources change.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json ! -name .npmrc -delete \
 && find . -mindepth 1 -type d -empty -delete

FROM ${NODE_IMAGE} AS build
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<inventory|tasks|licensing|topology|origin|gateway>" >&2; exit 1; }
# Install scripts run (a native addon would need them); these two only keep third-party
# post-install analytics quiet.
ENV SCARF_ANALYTICS=false DO_NOT_TRACK=1
WORKDIR /src
COPY --from=manifests /src/ ./
RUN npm ci
COPY . .
# tsc -b follows the project references, so the libs the service uses are compiled first.
# The gateway also serves the web console (/console): its build goes into the gateway's image only
# (an empty directory in the others), where the gateway's default CONSOLE_DIR finds it.
RUN test -d "services/${SERVICE}" || { echo "no such service: ${SERVICE}" >&2; exit 1; } \
 && npx tsc -b "services/${SERVICE}" \
 && mkdir -p /console-web \
 && if [ "${SERVICE}" = gateway ]; then npx tsc -b apps/console && npm run build --workspace @fleetcast/console && cp -R apps/console/dist/web/. /console-web/; fi \
 && npm prune --omit=dev

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    SERVICE=${SERVICE} \
    HTTP_PORT=3000
WORKDIR /app
# Code stays owned by root: the service user can read it but not change it.
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/libs ./libs
COPY --from=build /src/services/${SERVICE} ./services/${SERVICE}
COPY --from=build /console-web ./apps/console/dist/web
# The service's writable state (the origin's content store lives here) belongs to the runtime user;
# a fresh named volume mounted here inherits that ownership.
RUN mkdir -p "/var/lib/fleetcast/${SERVICE}" && chown node:node "/var/lib/fleetcast/${SERVICE}"
USER node
EXPOSE 3000
# A shell resolves the service name from the build; exec leaves node as the process that gets SIGTERM.
CMD ["sh", "-c", "exec node \"services/${SERVICE}/dist/src/main.js\""]
