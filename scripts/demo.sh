#!/usr/bin/env bash
# Serve the Nantong demo: migrate, load the demo data (once), start the web server, the MQTT, HJ 212 and
# JT/T 808 listeners, telemetry and truck upkeep, the task worker (route planning), the smart-bin simulator
# (every bin over its own transport: HTTP, MQTT or HJ 212) and the truck simulator (the demo collector's
# trucks over JT/T 808), print the URL and the logins, and stay in the foreground. Ctrl-C stops them all.
#
#   scripts/demo.sh [HOST] [PORT]      (make demo HOST=… PORT=… calls this after installing)
#
# The MQTT listener needs a broker at GREENISLE_MQTT_HOST:GREENISLE_MQTT_PORT (127.0.0.1:1883): when none
# answers there and mosquitto is installed, a private one is started for the demo. GREENISLE_DEMO_RATE
# sets the simulator's readings per second across all bins (default 10: each of 1,200 bins every two
# minutes, a simulated day's waste each time).
#
# The truck simulator drives today's published trips. When the demo collector has none, it plans and
# publishes today for it as the demo dispatcher (a plan for today starts from now), so its trucks leave
# their depot within minutes and drive in real time; one of them strays from its route and stops where
# nothing is planned, which the truck upkeep turns into alerts on the command centre's map.
set -euo pipefail

HOST="${1:-127.0.0.1}"
PORT="${2:-8000}"
cd "$(dirname "$0")/.."
BIN=.venv/bin
GREENISLE="$BIN/greenisle"
RATE="${GREENISLE_DEMO_RATE:-10}"

if [[ ! -x "$GREENISLE" ]]; then
    echo "demo.sh: $GREENISLE not found; run \`make install\` first" >&2
    exit 1
fi

# Every process the demo runs must exist in this checkout: fail now, not halfway through.
if ! COMMANDS="$("$GREENISLE" help --commands)"; then
    echo "demo.sh: \`greenisle help --commands\` failed; see the messages above" >&2
    exit 1
fi
MISSING=()
for command in load_demo demo_logins mqtt_listener hj212_listener jt808_listener telemetry_maintain \
    tracking_maintain manifests_maintain ledger_maintain supervision_maintain webhooks_deliver simulate simulate_trucks db_worker; do
    grep -qx "$command" <<<"$COMMANDS" || MISSING+=("$command")
done
if (( ${#MISSING[@]} )); then
    echo "demo.sh: 缺少命令 / missing greenisle commands: ${MISSING[*]}" >&2
    echo "demo.sh: this checkout cannot run the full demo yet; update it (or reinstall: make install)" >&2
    exit 1
fi

# Wildcard binds are reached through some other name, so they get a wildcard host list.
case "$HOST" in
    0.0.0.0 | :: | "[::]") OPEN_HOST=127.0.0.1; HOSTS="*" ;;
    *) OPEN_HOST="$HOST"; HOSTS="$HOST,localhost,127.0.0.1" ;;
esac
if [[ "$OPEN_HOST" == *:* && "$OPEN_HOST" != \[* ]]; then
    OPEN_HOST="[$OPEN_HOST]"  # an IPv6 literal inside a URL
fi
BIND="$HOST:$PORT"
[[ "$HOST" == *:* && "$HOST" != \[* ]] && BIND="[$HOST]:$PORT"
URL="http://$OPEN_HOST:$PORT/"
export GREENISLE_ALLOWED_HOSTS="${GREENISLE_ALLOWED_HOSTS:-$HOSTS}"

# The same defaults as config/settings.py GREENISLE; a wildcard listener is reached on loopback.
MQTT_HOST="${GREENISLE_MQTT_HOST:-127.0.0.1}"
MQTT_PORT="${GREENISLE_MQTT_PORT:-1883}"
HJ212_HOST="${GREENISLE_HJ212_HOST:-127.0.0.1}"
HJ212_PORT="${GREENISLE_HJ212_PORT:-9212}"
JT808_HOST="${GREENISLE_JT808_HOST:-127.0.0.1}"
JT808_PORT="${GREENISLE_JT808_PORT:-7808}"
reach() { case "$1" in "" | 0.0.0.0) echo 127.0.0.1 ;; :: | "[::]") echo ::1 ;; *) echo "$1" ;; esac; }

# Under GREENISLE_VAR_DIR when set, like the settings.
VAR_DIR="${GREENISLE_VAR_DIR:-var}"
LOG_DIR="$VAR_DIR/demo"
mkdir -p "$LOG_DIR"

"$GREENISLE" migrate --noinput
"$GREENISLE" load_demo --no-logins

# name:pid of every process started, in start order; stopped in reverse order.
PROCS=()
stop() {
    trap - INT TERM EXIT
    echo
    echo "stopping the demo…"
    local i entry
    # Background jobs of a script ignore SIGINT, so each gets a TERM of its own.
    for (( i=${#PROCS[@]}-1; i>=0; i-- )); do
        entry="${PROCS[$i]}"
        kill -TERM "${entry#*:}" 2>/dev/null || true
    done
    for (( i=${#PROCS[@]}-1; i>=0; i-- )); do
        entry="${PROCS[$i]}"
        wait "${entry#*:}" 2>/dev/null || true
    done
    echo "demo stopped"
}
# Interrupting is how a demo ends, so it ends successfully.
trap 'stop; exit 0' INT TERM
trap stop EXIT

started() { PROCS+=("$1:$2"); }

# Whether something accepts TCP connections on host:port.
listening() {
    timeout 2 bash -c "exec 3<>\"/dev/tcp/\$1/\$2\"" _ "$(reach "$1")" "$2" 2>/dev/null
}

# Wait for host:port to accept connections while the named process runs.
wait_listening() {
    local name="$1" pid="$2" host="$3" port="$4"
    for _ in $(seq 1 60); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "demo.sh: $name exited; see $LOG_DIR/$name.log" >&2
            exit 1
        fi
        listening "$host" "$port" && return 0
        sleep 0.5
    done
    echo "demo.sh: $name is not listening on $host:$port; see $LOG_DIR/$name.log" >&2
    exit 1
}

# An MQTT broker for the listener and the simulator.
if listening "$MQTT_HOST" "$MQTT_PORT"; then
    BROKER="the MQTT broker at $MQTT_HOST:$MQTT_PORT"
elif command -v mosquitto >/dev/null 2>&1 || [[ -x /usr/sbin/mosquitto ]]; then
    MOSQUITTO="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
    cat >"$LOG_DIR/mosquitto.conf" <<EOF
# Written by scripts/demo.sh: a private broker for the demo, on loopback, without persistence.
listener $MQTT_PORT $(reach "$MQTT_HOST")
allow_anonymous true
persistence false
max_queued_messages 10000
EOF
    "$MOSQUITTO" -c "$LOG_DIR/mosquitto.conf" >"$LOG_DIR/mosquitto.log" 2>&1 &
    started mosquitto $!
    wait_listening mosquitto $! "$MQTT_HOST" "$MQTT_PORT"
    BROKER="a private mosquitto on $MQTT_HOST:$MQTT_PORT (log $LOG_DIR/mosquitto.log)"
else
    echo "demo.sh: no MQTT broker answers on $MQTT_HOST:$MQTT_PORT and mosquitto is not installed" >&2
    echo "demo.sh: install one (apt-get install mosquitto) or point GREENISLE_MQTT_HOST/PORT at a broker" >&2
    exit 1
fi

# The simulator posts a reading every few hundred milliseconds: the access-log lines go to a file so
# that the terminal shows the simulator's one-line summaries and the server's own messages.
# Two workers per core: a request spends about as long waiting on PostgreSQL as running Python.
WEB_WORKERS="${GREENISLE_WEB_WORKERS:-$(( $(nproc 2>/dev/null || echo 2) * 2 ))}"
"$BIN/gunicorn" config.wsgi:application \
    --bind "$BIND" --workers "$WEB_WORKERS" --timeout 60 \
    --access-logfile "$LOG_DIR/access.log" --error-logfile - &
SERVER_PID=$!
started "web server" "$SERVER_PID"

"$GREENISLE" mqtt_listener >"$LOG_DIR/mqtt_listener.log" 2>&1 &
started mqtt_listener $!
"$GREENISLE" hj212_listener >"$LOG_DIR/hj212_listener.log" 2>&1 &
HJ212_PID=$!
started hj212_listener "$HJ212_PID"
"$GREENISLE" jt808_listener >"$LOG_DIR/jt808_listener.log" 2>&1 &
JT808_PID=$!
started jt808_listener "$JT808_PID"
"$GREENISLE" telemetry_maintain --every 60 >"$LOG_DIR/telemetry_maintain.log" 2>&1 &
started telemetry_maintain $!
# Truck alerts (off route, unplanned stop, overtime, hot cabin) and the track partitions.
"$GREENISLE" tracking_maintain --every 30 >"$LOG_DIR/tracking_maintain.log" 2>&1 &
started tracking_maintain $!
# Manifest deadlines: receipt reminders and overdue findings (办法 Art. 18).
"$GREENISLE" manifests_maintain --every 300 >"$LOG_DIR/manifests_maintain.log" 2>&1 &
started manifests_maintain $!
"$GREENISLE" ledger_maintain --every 900 >"$LOG_DIR/ledger_maintain.log" 2>&1 &
started ledger_maintain $!
# Findings: every rule's sweep (supervision/checks) and the deadlines of findings being followed up.
# In the demo the simulator's faults are findings as soon as their alert opens (a bin gone silent, a
# bin over its temperature limit), so the bureau sees them within a minute; the real defaults wait
# 24 h and 30 min (docs/findings-rules.md).
DEMO_FINDING_RULES='{"device.offline": {"hours": 0}, "bin.temperature_high": {"minutes": 0}}'
GREENISLE_FINDING_RULES="${GREENISLE_FINDING_RULES:-$DEMO_FINDING_RULES}" \
    "$GREENISLE" supervision_maintain --every 60 >"$LOG_DIR/supervision_maintain.log" 2>&1 &
started supervision_maintain $!
# Signed webhooks to organisations subscribed to their manifests' state changes.
"$GREENISLE" webhooks_deliver --every 5 >"$LOG_DIR/webhooks.log" 2>&1 &
started webhooks_deliver $!
# Background tasks (route planning) through Django's Tasks API, database backend.
"$GREENISLE" db_worker --interval 1 >"$LOG_DIR/worker.log" 2>&1 &
started worker $!

# Any HTTP answer (even a 404, or a redirect to the login page) means the server is serving.
answers() {
    "$BIN/python" - "$1" <<'PY'
import sys
import urllib.error
import urllib.request

try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
except OSError:
    sys.exit(1)
PY
}

echo "waiting for the server on $URL …"
SERVING=0
for _ in $(seq 1 60); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "demo.sh: the web server exited; see the messages above" >&2
        exit 1
    fi
    if answers "$URL"; then
        SERVING=1
        break
    fi
    sleep 0.5
done
# One answer is enough: while every process starts at once on a small machine, a second request may
# well take longer than the probe's timeout.
if (( ! SERVING )); then
    echo "demo.sh: the web server did not answer on $URL" >&2
    exit 1
fi
wait_listening hj212_listener "$HJ212_PID" "$HJ212_HOST" "$HJ212_PORT"
wait_listening jt808_listener "$JT808_PID" "$JT808_HOST" "$JT808_PORT"

"$GREENISLE" simulate --transport auto --rate "$RATE" --base-url "http://$OPEN_HOST:$PORT" &
started simulate $!
# --follow: after the day's trips the trucks stay parked, and a plan published later starts them again.
"$GREENISLE" simulate_trucks --plan-as dispatcher --follow >"$LOG_DIR/simulate_trucks.log" 2>&1 &
started simulate_trucks $!

echo
"$GREENISLE" demo_logins --url "$URL"
echo "Ctrl-C stops everything. The simulator's summaries appear here; the other logs are files:"
echo "  web server access log    $LOG_DIR/access.log (its errors appear here)"
echo "  MQTT listener            $LOG_DIR/mqtt_listener.log ($BROKER)"
echo "  HJ 212 listener          $LOG_DIR/hj212_listener.log ($HJ212_HOST:$HJ212_PORT)"
echo "  JT/T 808 listener        $LOG_DIR/jt808_listener.log ($JT808_HOST:$JT808_PORT)"
echo "  telemetry upkeep         $LOG_DIR/telemetry_maintain.log (every 60 s)"
echo "  truck alerts upkeep      $LOG_DIR/tracking_maintain.log (every 30 s)"
echo "  manifest deadlines       $LOG_DIR/manifests_maintain.log (every 5 min)"
echo "  storage and balance      $LOG_DIR/ledger_maintain.log (every 15 min)"
echo "  findings (rules)         $LOG_DIR/supervision_maintain.log (every minute)"
echo "  webhooks                 $LOG_DIR/webhooks.log (every 5 s)"
echo "  truck simulator          $LOG_DIR/simulate_trucks.log (JT/T 808 terminals of the demo collector)"
echo "  task worker (planning)   $LOG_DIR/worker.log"
echo "  device credentials       $LOG_DIR/device_credentials.json"
echo

# Stay in the foreground until interrupted, or until any process ends on its own.
while true; do
    for entry in "${PROCS[@]}"; do
        if ! kill -0 "${entry#*:}" 2>/dev/null; then
            echo "demo.sh: ${entry%%:*} ended on its own; stopping the demo" >&2
            exit 1
        fi
    done
    sleep 1 &
    wait $! || true
done
