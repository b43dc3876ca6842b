# syntax=docker/dockerfile:1
#
# One image with every command under cmd/: worker (the entrypoint), docusign-sim, enqueue and loadgen.
# docker-compose.yml runs the simulator and the key generator from it by overriding the entrypoint; an
# operator runs the CLI with `docker compose exec worker enqueue ...`.
#
#   docker build -t docusign-worker --build-arg VERSION=$(git describe --tags --always) .

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
# ./cmd/... builds whatever commands exist, one binary per directory, into /out. Static (no cgo), so the
# runtime image needs no Go or C libraries. -buildvcs=false: .git is not in the build context.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/ ./cmd/...

# debian:12-slim rather than distroless: the compose health checks need an HTTP client (wget, ~1 MB) and
# the one-shot key generator a shell.
FROM debian:12-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates wget \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app \
    && mkdir -p /keys /data \
    && chown app:app /keys /data \
    && chmod 0700 /keys
COPY --from=build /out/ /usr/local/bin/
# A named volume mounted on /keys or /data starts with the ownership of these directories, so the
# non-root user can write the key pair and the embedded NATS store.
USER 10001:10001
WORKDIR /data
EXPOSE 8080
ENTRYPOINT ["worker"]
