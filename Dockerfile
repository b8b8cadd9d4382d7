# One image with the three programs; docker-compose.yml picks the command.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/api ./cmd/worker ./cmd/dataverse-emulator \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/api /out/worker /out/dataverse-emulator /usr/local/bin/
# The emulator writes its CA here; a named volume mounted on /data inherits
# this ownership, so the non-root user can write it.
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot
ENTRYPOINT []
