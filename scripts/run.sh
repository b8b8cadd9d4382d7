#!/usr/bin/env bash
# `make run`: the whole stack on this machine — Redis (reused if one answers,
# else started here with append-only persistence), the Dataverse emulator,
# the API and the worker. Ctrl-C stops what this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
run=$root/.run
mkdir -p "$run/redis" "$run/emulator" "$run/logs"

export LEADBRIDGE_REDIS_URL=${LEADBRIDGE_REDIS_URL:-redis://127.0.0.1:6379/0}
export LEADBRIDGE_ADDR=${LEADBRIDGE_ADDR:-127.0.0.1:8080}
export LEADBRIDGE_WORKER_ADDR=${LEADBRIDGE_WORKER_ADDR:-127.0.0.1:9090}
export LEADBRIDGE_API_TOKEN=${LEADBRIDGE_API_TOKEN:-dev-token-change-me-0123}
export LEADBRIDGE_LOG_FORMAT=${LEADBRIDGE_LOG_FORMAT:-text}
export EMULATOR_ADDR=${EMULATOR_ADDR:-127.0.0.1:8443}
export EMULATOR_DATA_DIR=${EMULATOR_DATA_DIR:-$run/emulator}

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stopping…"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

# Redis: use the configured one if it answers, else start a local one.
redis_hostport=$(echo "$LEADBRIDGE_REDIS_URL" | sed -E 's#^rediss?://([^@/]*@)?([^/]+).*#\2#')
redis_host=${redis_hostport%:*}; redis_port=${redis_hostport##*:}
if redis-cli -h "$redis_host" -p "$redis_port" ping >/dev/null 2>&1; then
  echo "redis: using $redis_hostport"
  if [ "$(redis-cli -h "$redis_host" -p "$redis_port" config get appendonly 2>/dev/null | tail -1)" = no ]; then
    echo "redis: warning — this Redis has appendonly off, so a Redis restart loses queued submissions (fine for a demo; see README)"
  fi
else
  echo "redis: starting redis-server on $redis_hostport (append-only, data in .run/redis)"
  redis-server --port "$redis_port" --bind "$redis_host" --dir "$run/redis" --appendonly yes \
    --maxmemory-policy noeviction --logfile "$run/logs/redis.log" &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -h "$redis_host" -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

echo "building…"
go build -o "$run/bin/" ./cmd/api ./cmd/worker ./cmd/dataverse-emulator

wait_http() { # url name
  for _ in $(seq 150); do
    if curl -fsk -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$2 did not start; see .run/logs/$2.log" >&2
  tail -20 "$run/logs/$2.log" >&2 || true
  exit 1
}

if [ -z "${DATAVERSE_URL:-}" ]; then
  "$run/bin/dataverse-emulator" >"$run/logs/emulator.log" 2>&1 &
  pids+=($!)
  wait_http "https://$EMULATOR_ADDR/" emulator
fi
"$run/bin/api" >"$run/logs/api.log" 2>&1 &
pids+=($!)
wait_http "http://$LEADBRIDGE_ADDR/healthz" api
"$run/bin/worker" >"$run/logs/worker.log" 2>&1 &
pids+=($!)
wait_http "http://$LEADBRIDGE_WORKER_ADDR/healthz" worker

api=http://$LEADBRIDGE_ADDR
cat <<MSG

leadbridge is running (logs in .run/logs/). Ctrl-C stops it.

  demo form        $api/f/demo
  try it with curl curl -s -H 'Content-Type: application/json' -d '{"first_name":"Ann","last_name":"Lee","email":"ann@example.com","company":"Contoso"}' $api/f/demo
  submission       curl -s -H 'Authorization: Bearer $LEADBRIDGE_API_TOKEN' $api/v1/submissions/<id>
  failed list      curl -s -H 'Authorization: Bearer $LEADBRIDGE_API_TOKEN' '$api/v1/submissions?status=failed'
MSG
if [ -z "${DATAVERSE_URL:-}" ]; then
cat <<MSG
  created leads    https://$EMULATOR_ADDR/   (the emulator's page; its CA is $EMULATOR_DATA_DIR/ca.pem,
                   so a browser warns once — or: curl --cacert $EMULATOR_DATA_DIR/ca.pem https://$EMULATOR_ADDR/)
MSG
else
  echo "  dataverse        $DATAVERSE_URL"
fi
echo
tail -n 0 -q -f "$run/logs/api.log" "$run/logs/worker.log" &
pids+=($!)
# Run until Ctrl-C, or until one of the programs stops on its own (polled,
# as `wait -n` needs a newer bash than some systems ship).
while :; do
  for p in "${pids[@]}"; do
    if ! kill -0 "$p" 2>/dev/null; then
      echo "a process stopped; see .run/logs/" >&2
      exit 1
    fi
  done
  sleep 1
done
