# Multi-stage build of a static, non-root evident binary.
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json* ./
RUN if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; fi

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=assets /src/node_modules ./node_modules
RUN if [ -f dashboard/assets/sync.sh ]; then sh dashboard/assets/sync.sh; fi
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/evident ./cmd/evident

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/evident /usr/local/bin/evident
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/evident"]
CMD ["serve"]
