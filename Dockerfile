# jwtgate container image: one image for both roles (`jwtgate serve` and `jwtgate operator`).
# Node 24 runs the TypeScript sources directly (type stripping), so the image holds the sources
# and production dependencies only: no compiler, no dev dependencies, no npm at run time.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The pinned `node` dev dependency is for developers' machines; the image brings its own Node.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY common ./common
COPY snapshot ./snapshot
COPY authz ./authz
COPY compiler ./compiler
COPY operator ./operator
COPY cli ./cli
COPY crds ./crds
COPY protos ./protos
# The unprivileged `node` user (uid 1000) of the base image; files stay root-owned and read-only.
USER 1000:1000
EXPOSE 9001 9002 9003
ENTRYPOINT ["node", "cli/jwtgate.ts"]
CMD ["serve", "--kube"]
