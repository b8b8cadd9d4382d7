#!/usr/bin/env bash
# `make run`: the whole stack on this machine — Redis (reused if one answers,
# else started here with append-only persistence), the Dataverse emulator,
# the API and the worker. Ctrl-C stops what this script started and exits 0.
#
# LEADBRIDGE_RUN_DIR (default .run) holds the binaries, the logs and the data
# of a Redis started here; the tests point it at a directory of their own.
#
# Written for bash 3.2 too (macOS): no wait -n, no associative arrays, and no
# "${a[@]}" of an array that may be empty (an error under set -u before 4.4).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
run=${LEADBRIDGE_RUN_DIR:-$root/.run}
case $run in /*) ;; *) run=$root/$run ;; esac
logs=$run/logs
mkdir -p "$run/redis" "$run/emulator" "$logs"

export LEADBRIDGE_REDIS_URL=${LEADBRIDGE_REDIS_URL:-redis://127.0.0.1:6379/0}
export LEADBRIDGE_ADDR=${LEADBRIDGE_ADDR:-127.0.0.1:8080}
export LEADBRIDGE_WORKER_ADDR=${LEADBRIDGE_WORKER_ADDR:-127.0.0.1:9090}
export LEADBRIDGE_API_TOKEN=${LEADBRIDGE_API_TOKEN:-dev-token-change-me-0123}
# The admin console's development sign-in, unless one is configured.
admin_dev_password=""
if [ -z "${LEADBRIDGE_ADMIN_USER:-}" ] && [ -z "${LEADBRIDGE_ADMIN_OIDC_CLIENT_ID:-}" ]; then
  export LEADBRIDGE_ADMIN_USER=admin LEADBRIDGE_ADMIN_PASSWORD=dev-password-change-me
  admin_dev_password=$LEADBRIDGE_ADMIN_PASSWORD
fi
export LEADBRIDGE_LOG_FORMAT=${LEADBRIDGE_LOG_FORMAT:-text}
export EMULATOR_ADDR=${EMULATOR_ADDR:-127.0.0.1:8443}
export EMULATOR_DATA_DIR=${EMULATOR_DATA_DIR:-$run/emulator}

# LEADBRIDGE_REDIS_URL is redis[s]://[user:password@]host[:port][/db]; the
# banner names host, port and DB, never the password.
redis_hostport=$(echo "$LEADBRIDGE_REDIS_URL" | sed -E 's#^rediss?://([^@/]*@)?([^/?]+).*#\2#')
redis_host=${redis_hostport%:*} redis_port=6379
case $redis_hostport in *:*) redis_port=${redis_hostport##*:} ;; esac
redis_db=$(echo "$LEADBRIDGE_REDIS_URL" | sed -E 's#^rediss?://[^/]*/?([0-9]*).*#\1#')
redis_db=${redis_db:-0}
redis_note=""

pids=() names=() tailpid=""

# show PATH: PATH relative to the repository when it is inside it, for messages.
show() { case $1 in "$root"/*) echo "${1#"$root"/}" ;; *) echo "$1" ;; esac; }

# cleanup stops what this script started. It runs once, on any exit.
cleanup() {
  trap - INT TERM HUP EXIT
  if [ -n "$tailpid" ]; then kill "$tailpid" 2>/dev/null || true; fi
  if [ ${#pids[@]} -gt 0 ]; then
    echo "stopping…"
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  fi
  wait 2>/dev/null || true
}

# stop is what Ctrl-C (or kill, or a closed terminal) asks for: a clean stop,
# so exit 0 — make prints "Error" for any other status.
stop() {
  cleanup
  exit 0
}

# start NAME CMD…: run CMD in the background with its output in logs/NAME.log.
start() {
  local name=$1
  shift
  "$@" >"$logs/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}

# wait_ready NAME CHECK…: run CHECK until it succeeds. NAME is the program
# started last; if it exits first (a port in use, a bad setting), say so at
# once with the end of its log instead of waiting for the deadline.
wait_ready() {
  local name=$1 pid=${pids[${#pids[@]} - 1]} deadline=$((SECONDS + 60))
  shift
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited while starting; the end of $(show "$logs/$name.log"):" >&2
      tail -n 20 "$logs/$name.log" >&2 || true
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$name did not become ready within 60 s; see $(show "$logs/$name.log")" >&2
      exit 1
    fi
    sleep 0.2
  done
}

http_ok() { curl -fsk -o /dev/null --max-time 2 "$1"; }
redis_ping() { [ "$(redis-cli -u "$LEADBRIDGE_REDIS_URL" ping 2>/dev/null)" = PONG ]; }

start_redis() {
  if redis_ping; then
    # Whatever Redis answers is used as it is — say so, since leadbridge's
    # records and queues land in it.
    redis_note="already running: reused, and left running"
    echo "redis: using the Redis already running on $redis_hostport, DB $redis_db"
    if [ "$(redis-cli -u "$LEADBRIDGE_REDIS_URL" config get appendonly 2>/dev/null | tail -1)" = no ]; then
      echo "redis: warning — this Redis has appendonly off, so a Redis restart loses queued submissions (fine for a demo; see README)"
    fi
    return
  fi
  # Only a plain Redis on this machine can be started here; any other is the
  # user's to start.
  if [[ $LEADBRIDGE_REDIS_URL != redis://* ]] || [[ $redis_host != 127.0.0.1 && $redis_host != localhost ]]; then
    echo "no Redis answers at $redis_hostport (LEADBRIDGE_REDIS_URL): start it, or unset LEADBRIDGE_REDIS_URL to have make run start one on 127.0.0.1:6379" >&2
    exit 1
  fi
  redis_note="started by make run, data in $(show "$run/redis")"
  echo "redis: starting redis-server on $redis_hostport (append-only, data in $(show "$run/redis"))"
  start redis redis-server --port "$redis_port" --bind "$redis_host" --dir "$run/redis" \
    --appendonly yes --maxmemory-policy noeviction
  wait_ready redis redis_ping
}

# progress keeps go's output in build.log and, on a terminal, shows only its
# latest line, rewritten in place: go names every module it downloads and,
# with -v, every package it compiles — hundreds of lines on a first build.
progress() {
  local line n=0 width=80 tty=false
  if [ -t 1 ]; then
    tty=true
    width=$(tput cols 2>/dev/null || echo 80)
    if [ "$width" -lt 40 ]; then width=80; fi
  fi
  : >"$logs/build.log"
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$logs/build.log"
    n=$((n + 1))
    if $tty; then printf '\r\033[K  %4d  %.*s' "$n" $((width - 10)) "$line"; fi
  done
  if $tty && [ "$n" -gt 0 ]; then printf '\r\033[K'; fi
}

build() {
  echo "building api, worker and dataverse-emulator into $(show "$run/bin") (the first build downloads modules and compiles dependencies, which can take a few minutes)…"
  if ! go build -v -o "$run/bin/" ./cmd/api ./cmd/worker ./cmd/dataverse-emulator 2>&1 | progress; then
    # Once package names and downloads are dropped, what is left is the error.
    grep -Ev '^([[:alnum:]._~/+-]+|go: downloading .*)$' "$logs/build.log" >&2 || true
    echo "the build failed; all of go's output is in $(show "$logs/build.log")" >&2
    exit 1
  fi
}

start_programs() {
  if [ -z "${DATAVERSE_URL:-}" ]; then
    start emulator "$run/bin/dataverse-emulator"
    wait_ready emulator http_ok "https://$EMULATOR_ADDR/"
  fi
  start api "$run/bin/api"
  wait_ready api http_ok "http://$LEADBRIDGE_ADDR/healthz"
  start worker "$run/bin/worker"
  wait_ready worker http_ok "http://$LEADBRIDGE_WORKER_ADDR/healthz"
}

# line LABEL TEXT: one line of the banner.
line() { printf '  %-16s %s\n' "$1" "$2"; }

banner() {
  local api=http://$LEADBRIDGE_ADDR forms f label=forms ca
  # The API names the forms it serves in its "api listening" line — forms=[a b]
  # as text, "forms":["a","b"] as JSON — so the banner lists what it really
  # loaded, from LEADBRIDGE_CONFIG or the built-in demo.
  forms=$(sed -n '/api listening/{s/.*forms"\{0,1\}[=:]"\{0,1\}\[\([^]]*\)\].*/\1/p;q;}' "$logs/api.log" | tr -d '"' | tr ',' ' ')
  echo
  echo "leadbridge is running (logs in $(show "$logs")/). Ctrl-C stops it."
  echo
  for f in $forms; do
    line "$label" "$api/f/$f"
    label=""
  done
  if [ -z "$forms" ]; then line forms "see the \"api listening\" line in $(show "$logs/api.log")"; fi
  case " $forms " in
    *" demo "*) line "try it with curl" "curl -s -H 'Content-Type: application/json' -d '{\"first_name\":\"Ann\",\"last_name\":\"Lee\",\"email\":\"ann@example.com\",\"company\":\"Contoso\"}' $api/f/demo" ;;
  esac
  if [ -n "$LEADBRIDGE_API_TOKEN" ]; then
    line submission "curl -s -H 'Authorization: Bearer $LEADBRIDGE_API_TOKEN' $api/v1/submissions/<id>"
    line "failed list" "curl -s -H 'Authorization: Bearer $LEADBRIDGE_API_TOKEN' '$api/v1/submissions?status=failed'"
  fi
  if [ -n "$admin_dev_password" ]; then
    line "admin console" "$api/admin   (sign in as admin / $admin_dev_password)"
  elif [ -n "${LEADBRIDGE_ADMIN_USER:-}${LEADBRIDGE_ADMIN_OIDC_CLIENT_ID:-}" ]; then
    line "admin console" "$api/admin"
  fi
  line redis "$redis_hostport, DB $redis_db ($redis_note)"
  if [ -n "${DATAVERSE_URL:-}" ]; then
    line dataverse "$DATAVERSE_URL"
  else
    ca=$(show "$EMULATOR_DATA_DIR/ca.pem")
    line "created leads" "https://$EMULATOR_ADDR/   (the emulator's page; its CA is $ca,"
    line "" "so a browser warns once — or: curl --cacert $ca https://$EMULATOR_ADDR/)"
    if [ "${EMULATOR_PERSIST:-}" = false ]; then
      line "emulator rows" "forgotten when it stops (EMULATOR_PERSIST=false)"
    else
      line "emulator rows" "kept in $(show "$EMULATOR_DATA_DIR")/rows.json (EMULATOR_PERSIST=false to forget them)"
    fi
  fi
  echo
}

# supervise follows the API's and the worker's logs until Ctrl-C, or until a
# program stops on its own (polled: wait -n needs bash 4.3).
supervise() {
  local i
  tail -n 0 -q -f "$logs/api.log" "$logs/worker.log" &
  tailpid=$!
  while :; do
    # Run as a job (below), main outlives a script killed without Ctrl-C
    # (make forwards SIGTERM to it alone): stop with it. $$ is the script's
    # pid, also in the job.
    if ! kill -0 $$ 2>/dev/null; then stop; fi
    for i in "${!pids[@]}"; do
      if ! kill -0 "${pids[$i]}" 2>/dev/null; then
        # The programs end with status 0 only when asked to (SIGINT, SIGTERM),
        # so stop the rest as Ctrl-C would; any other status is a failure.
        if wait "${pids[$i]}"; then
          echo "${names[$i]} was stopped; stopping the rest"
          stop
        fi
        echo "${names[$i]} stopped unexpectedly; the end of $(show "$logs/${names[$i]}.log"):" >&2
        tail -n 20 "$logs/${names[$i]}.log" >&2 || true
        exit 1
      fi
    done
    sleep 1
  done
}

main() {
  trap stop INT TERM HUP
  trap cleanup EXIT
  start_redis
  build
  start_programs
  banner
  supervise
}

# Ctrl-C in a terminal signals its whole foreground process group: make as
# well as this script. GNU make then dies of SIGINT (status 130) however
# cleanly the script stops. So when this script is in the terminal's
# foreground, it runs main as a job of its own (set -m gives it its own
# process group) and hands that job the terminal (fg): Ctrl-C reaches only
# the job, which stops everything and exits 0, and make sees exit 0.
# Elsewhere (no terminal, or signals sent by a program) main runs here.
if [ -t 0 ] && [ "$(ps -o tpgid= -p $$ | tr -d ' ')" = "$(ps -o pgid= -p $$ | tr -d ' ')" ]; then
  set -m
  # Ctrl-Z would stop the job and leave make waiting on it with no prompt to
  # resume it from: ignore it (children inherit that).
  { trap '' TSTP; main; } &
  fg %1 >/dev/null
else
  main
fi
