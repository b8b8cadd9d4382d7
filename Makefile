# leadbridge — the two commands a newcomer needs are `make run` and `make test`.
GO ?= go
TEST_TIMEOUT ?= 12m

.PHONY: run test bench build deps deps-test vet fmt clean screenshots

## run: the whole stack on this machine (Redis, Dataverse emulator, API, worker)
run: deps
	@scripts/run.sh

## test: every test — unit, integration against real redis-server, the emulator over TLS, end to end.
## docker-compose.yml is checked by scripts/compose_test.go with compose's own loader, and also by
## `docker compose config` where Docker Compose is installed.
test: deps-test
	$(GO) vet ./...
	@if docker compose version >/dev/null 2>&1; then echo "docker compose config -q"; docker compose config -q; fi
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## bench: benchmarks (emulator, intake of forms and webhooks, intake against a reference server, waiting for a replica, delivery end to end, a 5,000-submission backlog at scaled Dataverse limits batched and one at a time, spam and flood checks, erasing a person); results belong in docs/BENCHMARKS.md
bench: deps-test
	$(GO) test -run '^$$' -bench . -benchtime 3s ./emulator/ ./handlers/
	$(GO) test -run '^$$' -bench IntakeVsReference -benchtime 1x ./internal/loadgen/
	$(GO) test -run '^$$' -bench Replicated -benchtime 2s ./submission/
	$(GO) test -run '^$$' -bench DeliveryThroughput -benchtime 1000x ./e2e/
	$(GO) test -run '^$$' -bench DeliveryBacklog -benchtime 1x -timeout 30m ./e2e/
	$(GO) test -run '^$$' -bench . ./flood/ ./spam/
	$(GO) test -run '^$$' -bench EraseAmong -benchtime 5x ./erase/

## screenshots: the admin console's pictures in docs/, taken by its browser test in Chromium
screenshots: deps-test
	LEADBRIDGE_SCREENSHOTS=docs $(GO) test -count=1 -run 'TestAdminConsoleInChromium$$' ./e2e/

## build: the three programs into bin/
build:
	$(GO) build -o bin/ ./cmd/api ./cmd/worker ./cmd/dataverse-emulator

deps:
	@scripts/deps.sh run

deps-test:
	@scripts/deps.sh test

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin .run
