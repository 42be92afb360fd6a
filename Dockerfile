# LogTrace Auth — production image. Node.js 24 LTS runs the TypeScript sources directly (type stripping).
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; the node@24 devDependency is not needed inside a Node 24 image.
RUN npm ci --omit=dev && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    LOGTRACE_CONFIG=/app/config/default.yaml \
    DATA_DIR=/var/lib/logtrace
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY views ./views
COPY config ./config
RUN mkdir -p /var/lib/logtrace && chown node:node /var/lib/logtrace
USER node
EXPOSE 3000
VOLUME ["/var/lib/logtrace"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "src/main.ts"]
