# syntax=docker/dockerfile:1
# Build: docker build --build-arg VERSION=v0.1.0 -t lattice-gateway:v0.1.0 .   (or: make image)
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
# Set by BuildKit from --platform; the binary is cross-compiled, not emulated.
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
# Dependencies first, so source edits do not invalidate the module download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
    -ldflags "-s -w -X github.com/lattice-gateway/lattice-gateway/internal/version.Version=${VERSION}" \
    -o /out/lattice-gateway ./cmd/lattice-gateway

# Static binary, no shell, no package manager; uid 65532.
FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/lattice-gateway /lattice-gateway
USER 65532:65532
ENTRYPOINT ["/lattice-gateway"]
CMD ["controller"]
