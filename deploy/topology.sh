#!/usr/bin/env bash
# A test topology of MTB on one machine, built from the parts production uses:
#
#   client -> nginx :8100 -> mtb serve :8101, mtb serve :8102 -> pgbouncer :6432 (transaction pooling)
#                                  |                                  -> PostgreSQL :5432, database mtb_topo
#                                  +-> shared material storage (a directory, or an S3 bucket)
#
#   deploy/topology.sh start    drop and make database mtb_topo, migrate it, load the catalogs and the
#                               staff accounts, start every part, wait until nginx says ready, print MTB_TOPOLOGY_URL
#   deploy/topology.sh revive   start again whatever part is not running (after a test killed one)
#   deploy/topology.sh status   which parts run
#   deploy/topology.sh stop     stop every part gracefully (nginx first; MTB finishes what is in flight)
#   deploy/topology.sh postgres start|stop|restart   the private PostgreSQL (TOPO_FAULTS=1), for fault tests
#
# Everything lives in var/topology/ (configuration, logs, pid files, topology.env for the tests). Settings
# by environment: TOPO_PORT (8100), TOPO_MTB_PORTS ("8101 8102"), TOPO_PGBOUNCER_PORT (6432),
# TOPO_PG (postgresql://postgres@127.0.0.1:5432), TOPO_DB (mtb_topo), TOPO_STORAGE (s3, or files for a
# shared directory), MTB_S3_ENDPOINT_URL (unset: a moto server of the topology's own on TOPO_MOTO_PORT, 5057).
# TOPO_FAULTS=1 (tests/faults) makes the parts a fault test may stop the topology's own: a private
# PostgreSQL cluster (initdb into var/topology/pg or TOPO_PGDATA, port TOPO_PG_PORT, 5442; never the machine's cluster,
# which others use) and a gate in front of moto (tests/faults/tcpgate.py on TOPO_S3_GATE_PORT, 5058) that
# takes S3 away without losing moto's in-memory objects.
# Run as root (as CI does), pgbouncer runs as user postgres and nginx's workers as www-data.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/var/topology
BIN=$ROOT/.venv/bin
# Every command after `start` uses the TOPO_ settings `start` was given (unless given others).
if [ "${1:-}" != start ] && [ -f "$RUN/settings.sh" ]; then
    # shellcheck source=/dev/null
    . "$RUN/settings.sh"
fi
PORT=${TOPO_PORT:-8100}
read -r -a MTB_PORTS <<< "${TOPO_MTB_PORTS:-8101 8102}"
PGB_PORT=${TOPO_PGBOUNCER_PORT:-6432}
PG=${TOPO_PG:-postgresql://postgres@127.0.0.1:5432}
DB=${TOPO_DB:-mtb_topo}
MOTO_PORT=${TOPO_MOTO_PORT:-5057}
STORAGE=${TOPO_STORAGE:-s3}
FAULTS=${TOPO_FAULTS:-0}
PG_PORT=${TOPO_PG_PORT:-5442}
GATE_PORT=${TOPO_S3_GATE_PORT:-5058}
# The private cluster's directory belongs to user postgres, who must reach it: under var/topology when
# postgres can get into this checkout, else under /var/tmp (a checkout in root's home).
PGDATA_DIR=${TOPO_PGDATA:-$RUN/pg}
if [ -z "${TOPO_PGDATA:-}" ] && [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$ROOT" 2>/dev/null; then
    PGDATA_DIR=/var/tmp/mtb-topology-pg-$PG_PORT
fi
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ "$FAULTS" = 1 ]; then
    PG=postgresql://postgres@127.0.0.1:$PG_PORT
    MOTO_URL=http://127.0.0.1:$GATE_PORT
else
    MOTO_URL=http://127.0.0.1:$MOTO_PORT
fi

say() { echo "topology: $*" >&2; }
die() { say "$*"; exit 1; }

running() {  # running NAME: its pid file names a live process
    local pid
    pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
    kill -0 "$pid" 2>/dev/null
}

wait_http() {  # wait_http URL SECONDS: until URL answers 200
    local deadline=$((SECONDS + $2))
    until curl -fs -o /dev/null --max-time 2 "$1"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.3
    done
}

wait_port() {  # wait_port PORT SECONDS
    local deadline=$((SECONDS + $2))
    until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

launch() {  # launch NAME COMMAND...: in the background, output to NAME.log, pid to NAME.pid
    local name=$1
    shift
    "$@" >> "$RUN/$name.log" 2>&1 &
    echo $! > "$RUN/$name.pid"
}

pg_port() {  # the port of the PostgreSQL in TOPO_PG (5432 unless it names one)
    local hostport=${PG#*@}
    hostport=${hostport%%/*}
    case $hostport in *:*) echo "${hostport##*:}" ;; *) echo 5432 ;; esac
}

as_postgres() {  # initdb and postgres refuse to run as root
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_ctl() {  # postgres_ctl start|stop|restart: the private cluster (TOPO_FAULTS=1)
    local action=$1
    case $action in
        start|restart)
            as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w -t 60 "$action" -m fast \
                -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PGDATA_DIR" >/dev/null
            head -1 "$PGDATA_DIR/postmaster.pid" > "$RUN/postgres.pid" ;;
        stop)
            as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -w -t 60 stop -m fast >/dev/null
            rm -f "$RUN/postgres.pid" ;;
    esac
}

init_postgres() {  # a fresh private cluster in $PGDATA_DIR
    [ -n "$PG_BIN" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
    rm -rf "$PGDATA_DIR"
    mkdir -p "$PGDATA_DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$PGDATA_DIR"; fi
    as_postgres "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null \
        || die "initdb failed"
    cat >> "$PGDATA_DIR/postgresql.conf" <<EOF
# deploy/topology.sh (TOPO_FAULTS=1): a small private cluster
max_connections = 200
shared_buffers = 64MB
EOF
}

write_configs() {
    mkdir -p "$RUN/nginx/logs"
    local pgb_user="" nginx_user=""
    if [ "$(id -u)" = 0 ]; then
        pgb_user=postgres  # pgbouncer refuses to run as root
        nginx_user="user www-data;"
    fi
    cat > "$RUN/userlist.txt" <<EOF
"postgres" ""
EOF
    cat > "$RUN/pgbouncer.ini" <<EOF
; Written by deploy/topology.sh. Transaction pooling: a server connection belongs to a client for one
; transaction only, so MTB runs with MTB_DATABASE_PREPARED_STATEMENTS=false and no session state.
[databases]
$DB = host=127.0.0.1 port=$(pg_port) dbname=$DB

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $RUN/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = 40
max_client_conn = 500
server_reset_query =
; PostgreSQL restarting or stopped (deploy/pgbouncer.ini.example explains): retry the login every second,
; give up a connection attempt after 3 s, and answer a client that waited 5 s for a server connection
; with an error (MTB: 503 database_unavailable) instead of holding it.
server_login_retry = 1
server_connect_timeout = 3
query_wait_timeout = 5
idle_transaction_timeout = 60
EOF
    local body_mb
    body_mb=$("$BIN/python" -c "
from mtb.http.limits import FORM_MARGIN
from mtb.settings import Settings
print(-(-(Settings().max_upload_bytes + FORM_MARGIN) // 2**20))")
    {
        echo "# Written by deploy/topology.sh; deploy/nginx.conf.example explains every line."
        echo "$nginx_user"
        echo "worker_processes 1;"
        echo "pid $RUN/nginx/nginx.pid;"
        echo "error_log $RUN/nginx/logs/error.log warn;"
        echo "events { worker_connections 1024; }"
        echo "http {"
        echo "    access_log $RUN/nginx/logs/access.log;"
        echo "    upstream mtb {"
        for port in "${MTB_PORTS[@]}"; do
            echo "        server 127.0.0.1:$port max_fails=3 fail_timeout=10s;"
        done
        echo "        keepalive 16;"
        echo "        keepalive_timeout 4s;"
        echo "    }"
        echo "    server {"
        echo "        listen 127.0.0.1:$PORT;"
        echo "        client_max_body_size ${body_mb}m;"
        echo "        client_header_timeout 10s;"
        echo "        client_body_timeout 20s;"
        echo "        send_timeout 30s;"
        echo "        proxy_http_version 1.1;"
        echo "        proxy_set_header Connection \"\";"
        echo "        proxy_set_header Host \$host;"
        echo "        proxy_set_header X-Forwarded-For \$remote_addr;"
        echo "        proxy_set_header X-Forwarded-Proto \$scheme;"
        echo "        proxy_connect_timeout 2s;"
        echo "        proxy_send_timeout 20s;"
        echo "        proxy_read_timeout 10s;"
        echo "        proxy_next_upstream error timeout;"
        echo "        proxy_next_upstream_tries 2;"
        echo "        proxy_next_upstream_timeout 15s;"
        echo "        location = /metrics { return 404; }"
        echo "        location ~ (/materials(/[^/]+)?\$|/form\.pdf\$|/exports/|/fhir/) {"
        echo "            proxy_pass http://mtb;"
        echo "            proxy_read_timeout 30s;"
        echo "        }"
        echo "        location / {"
        echo "            proxy_pass http://mtb;"
        echo "        }"
        echo "    }"
        echo "}"
    } > "$RUN/nginx.conf"
    echo "$pgb_user" > "$RUN/pgbouncer.user"
}

save_settings() {
    local name
    for name in TOPO_PORT TOPO_MTB_PORTS TOPO_PGBOUNCER_PORT TOPO_PG TOPO_DB TOPO_MOTO_PORT TOPO_STORAGE \
        TOPO_FAULTS TOPO_PG_PORT TOPO_S3_GATE_PORT TOPO_PGDATA; do
        if [ -n "${!name:-}" ]; then printf ': "${%s:=%q}"\n' "$name" "${!name}"; fi
    done > "$RUN/settings.sh"
}

write_env() {
    local secret data staff storage_env
    secret=$(head -c 36 /dev/urandom | base64 | tr -d '/+=')
    staff=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    data=$(head -c 36 /dev/urandom | base64 | tr -d '/+=')
    if [ "$STORAGE" = s3 ]; then
        storage_env="MTB_STORAGE_URL=s3://mtb-topology/materials
MTB_S3_ENDPOINT_URL=${MTB_S3_ENDPOINT_URL:-$MOTO_URL}
MTB_S3_REGION=us-east-1
MTB_S3_ACCESS_KEY_ID=topology
MTB_S3_SECRET_ACCESS_KEY=topology"
    else
        storage_env=""
    fi
    # What every MTB command of the topology shares (the keys above all: a token signed by one process is
    # read by the other, an ID number encrypted by `mtb insured import` is found by both). The OCR pre-review is off:
    # it has tests of its own, and on two shared cores it would starve the serving path measured here.
    # The reference catalogs still hold values the source documents do not state (marked examples): a
    # production deployment must confirm them; this test deployment accepts them explicitly.
    cat > "$RUN/topology.env" <<EOF
MTB_ENV=production
MTB_ALLOW_EXAMPLE_POLICY=true
MTB_SECRET_KEY=topology-secret-$secret
MTB_DATA_KEY=topology-data-$data
MTB_STORAGE_PATH=$RUN/files
$storage_env
MTB_LOG_LEVEL=INFO
MTB_JOBS_INTERVAL_SECONDS=5
MTB_SHUTDOWN_GRACE_SECONDS=20
MTB_DATABASE_PREPARED_STATEMENTS=false
MTB_PREREVIEW_ENABLED=false
MTB_TOPOLOGY_URL=http://127.0.0.1:$PORT
MTB_TOPOLOGY_STAFF_PASSWORD=topology-staff-$staff
MTB_TOPOLOGY_DATABASE_URL=${PG/postgresql:/postgresql+psycopg:}/$DB
MTB_TOPOLOGY_POOLED_URL=postgresql+psycopg://postgres@127.0.0.1:$PGB_PORT/$DB
MTB_TOPOLOGY_FAULTS=$FAULTS
MTB_TOPOLOGY_MTB_URLS=$(printf 'http://127.0.0.1:%s ' "${MTB_PORTS[@]}" | sed 's/ $//')
EOF
}

with_env() {  # with_env DATABASE_URL COMMAND...: run a command with the topology's settings
    local url=$1 settings
    shift
    mapfile -t settings < <(grep -v '^$' "$RUN/topology.env")
    env "${settings[@]}" MTB_DATABASE_URL="$url" "$@"
}

topology_value() { grep "^$1=" "$RUN/topology.env" | cut -d= -f2-; }

port_of() {
    case $1 in
        moto) echo "$MOTO_PORT" ;;
        s3gate) echo "$GATE_PORT" ;;
        postgres) echo "$PG_PORT" ;;
        pgbouncer) echo "$PGB_PORT" ;;
        mtb-*) echo "${MTB_PORTS[$((${1#mtb-} - 1))]}" ;;
        nginx) echo "$PORT" ;;
    esac
}

start_part() {  # start_part NAME: start one part if it is not running
    local name=$1
    running "$name" && return 0
    if wait_port "$(port_of "$name")" 0; then
        die "port $(port_of "$name") of $name is taken by another program (set TOPO_* ports)"
    fi
    case $name in
        moto)
            launch moto "$BIN/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
            wait_port "$MOTO_PORT" 30 || die "moto did not start: $(tail -5 "$RUN/moto.log")" ;;
        s3gate)
            launch s3gate "$BIN/python" "$ROOT/tests/faults/tcpgate.py" "$GATE_PORT" "$MOTO_PORT"
            wait_port "$GATE_PORT" 20 || die "the S3 gate did not start: $(tail -5 "$RUN/s3gate.log")" ;;
        postgres)
            postgres_ctl start ;;
        pgbouncer)
            local user
            user=$(cat "$RUN/pgbouncer.user")
            launch pgbouncer /usr/sbin/pgbouncer ${user:+-u "$user"} "$RUN/pgbouncer.ini"
            wait_port "$PGB_PORT" 20 || die "pgbouncer did not start: $(tail -5 "$RUN/pgbouncer.log")" ;;
        mtb-*)
            local port
            port=$(port_of "$name")
            local settings
            mapfile -t settings < <(grep -v '^$' "$RUN/topology.env")
            launch "$name" env "${settings[@]}" MTB_DATABASE_URL="$(topology_value MTB_TOPOLOGY_POOLED_URL)" \
                "$BIN/mtb" serve --host 127.0.0.1 --port "$port"
            wait_http "http://127.0.0.1:$port/api/v1/health/ready" 60 \
                || die "$name did not become ready: $(tail -5 "$RUN/$name.log")" ;;
        nginx)
            launch nginx /usr/sbin/nginx -p "$RUN/nginx" -c "$RUN/nginx.conf" -g "daemon off;"
            wait_http "http://127.0.0.1:$PORT/api/v1/health/ready" 20 \
                || die "nginx did not answer: $(tail -5 "$RUN/nginx.log" "$RUN/nginx/logs/error.log")" ;;
    esac
    say "$name running (pid $(cat "$RUN/$name.pid"))"
}

parts() {
    local names=()
    if [ "$FAULTS" = 1 ]; then names+=(postgres); fi
    if [ "$(topology_value MTB_S3_ENDPOINT_URL)" = "$MOTO_URL" ]; then names+=(moto); fi
    if [ "$FAULTS" = 1 ] && [ "$(topology_value MTB_S3_ENDPOINT_URL)" = "$MOTO_URL" ]; then names+=(s3gate); fi
    names+=(pgbouncer)
    for i in "${!MTB_PORTS[@]}"; do names+=("mtb-$((i + 1))"); done
    names+=(nginx)
    echo "${names[@]}"
}

make_bucket() {
    with_env "" "$BIN/python" - <<'EOF'
import boto3
from mtb.materials.location import parse_storage_url
from mtb.settings import Settings

settings = Settings()
location = parse_storage_url(settings.storage_url)
s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
                  aws_access_key_id=settings.s3_access_key_id,
                  aws_secret_access_key=settings.s3_secret_access_key.get_secret_value())
if location.bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
    s3.create_bucket(Bucket=location.bucket)
EOF
}

start() {
    [ -x "$BIN/mtb" ] || die "no $BIN/mtb: run make install first"
    for part in pgbouncer mtb-1 mtb-2 nginx moto s3gate postgres; do
        running "$part" && die "$part is running already: deploy/topology.sh stop first"
    done
    mkdir -p "$RUN"
    rm -rf "$RUN/files" "$RUN"/*.log
    write_configs
    write_env
    save_settings
    if [ "$FAULTS" = 1 ]; then
        init_postgres
        start_part postgres
    fi
    local direct
    direct=$(topology_value MTB_TOPOLOGY_DATABASE_URL)
    PGOPTIONS="-c client_min_messages=warning" psql "$PG/postgres" -qX -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
    # Migrations and loads go straight to PostgreSQL: DDL wants a session of its own, not a pooled one.
    with_env "$direct" "$BIN/mtb" db upgrade >/dev/null
    with_env "$direct" "$BIN/mtb" catalog load >/dev/null
    # Production refuses `mtb demo` (its password is public): the staff the journeys use, with a password
    # of this run.
    local username
    for username in bj_reviewer bj_admin; do
        topology_value MTB_TOPOLOGY_STAFF_PASSWORD | with_env "$direct" "$BIN/mtb" staff create "$username" \
            --role "${username#bj_}" --region 110000 >/dev/null
    done
    for part in $(parts); do
        start_part "$part"
        if [ "$part" = s3gate ] || { [ "$part" = moto ] && [ "$FAULTS" != 1 ]; }; then make_bucket; fi
    done
    say "ready; material files in ${STORAGE/files/$RUN/files}"
    echo "MTB_TOPOLOGY_URL=http://127.0.0.1:$PORT"
}

revive() {
    [ -f "$RUN/topology.env" ] || die "never started: deploy/topology.sh start"
    for part in $(parts); do start_part "$part"; done
}

stop() {
    local pid part pidfile
    for pidfile in "$RUN/nginx.pid" "$RUN"/mtb-*.pid "$RUN/pgbouncer.pid" "$RUN/s3gate.pid" "$RUN/moto.pid" \
        "$RUN/postgres.pid"; do
        part=$(basename "$pidfile" .pid)
        pid=$(cat "$pidfile" 2>/dev/null) || continue
        kill -CONT "$pid" 2>/dev/null || true  # a test may have left it stopped (SIGSTOP)
        if [ "$part" = postgres ]; then
            postgres_ctl stop && say "postgres stopped"
            continue
        fi
        if kill -0 "$pid" 2>/dev/null; then
            # nginx: SIGQUIT is its graceful stop (answers what it has); MTB and the rest: SIGTERM.
            if [ "$part" = nginx ]; then kill -QUIT "$pid"; else kill -TERM "$pid"; fi
            for _ in $(seq 250); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            if kill -0 "$pid" 2>/dev/null; then
                say "$part did not stop in 25 s: SIGKILL"
                kill -KILL "$pid"
            fi
            say "$part stopped"
        fi
        rm -f "$RUN/$part.pid"
    done
}

status() {
    local part code=0
    [ -f "$RUN/topology.env" ] || { say "never started"; return 1; }
    for part in $(parts); do
        if running "$part"; then say "$part running (pid $(cat "$RUN/$part.pid"))"; else say "$part stopped"; code=1; fi
    done
    return $code
}

case "${1:-}" in
    start) start ;;
    revive) revive ;;
    stop) stop ;;
    status) status ;;
    postgres)
        [ "$FAULTS" = 1 ] || die "the topology's PostgreSQL is not its own: start it with TOPO_FAULTS=1"
        postgres_ctl "${2:?start, stop or restart}" ;;
    *) echo "usage: $0 start|revive|status|stop|postgres start|stop|restart" >&2; exit 2 ;;
esac
