# One image with the three programs and their health probe; docker-compose.yml
# picks the command.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/api ./cmd/worker ./cmd/dataverse-emulator ./cmd/healthcheck \
 && mkdir -p /out/data /out/ca

# distroless: no shell and no curl, hence cmd/healthcheck for the health checks.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/api /out/worker /out/dataverse-emulator /out/healthcheck /usr/local/bin/
# The emulator keeps its CA key in /data and publishes ca.pem in /ca; a named
# volume mounted on either inherits this ownership, so the non-root user can
# write it.
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build --chown=65532:65532 /out/ca /ca
USER nonroot
ENTRYPOINT []
