#!/usr/bin/env bash
# Serve the Nantong demo: migrate, load the demo data (once), start the web server and the smart-bin
# simulator, print the URL and the logins, and stay in the foreground. Ctrl-C stops both processes.
#
#   scripts/demo.sh [HOST] [PORT]      (make demo HOST=… PORT=… calls this after installing)
set -euo pipefail

HOST="${1:-127.0.0.1}"
PORT="${2:-8000}"
cd "$(dirname "$0")/.."
BIN=.venv/bin
GREENISLE="$BIN/greenisle"

if [[ ! -x "$GREENISLE" ]]; then
    echo "demo.sh: $GREENISLE not found; run \`make install\` first" >&2
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

# Under GREENISLE_VAR_DIR when set, like the settings.
VAR_DIR="${GREENISLE_VAR_DIR:-var}"
LOG_DIR="$VAR_DIR/demo"
mkdir -p "$LOG_DIR"

"$GREENISLE" migrate --noinput
"$GREENISLE" load_demo --no-logins

SERVER_PID=""
SIMULATOR_PID=""
stop() {
    trap - INT TERM EXIT
    echo
    echo "stopping the demo…"
    # Background jobs of a script ignore SIGINT, so each gets a TERM of its own.
    for pid in "$SIMULATOR_PID" "$SERVER_PID"; do
        [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "$SIMULATOR_PID" "$SERVER_PID"; do
        [[ -n "$pid" ]] && wait "$pid" 2>/dev/null || true
    done
    echo "demo stopped"
}
# Interrupting is how a demo ends, so it ends successfully.
trap 'stop; exit 0' INT TERM
trap stop EXIT

# The simulator posts dozens of readings every few seconds: their access-log lines go to a file so
# that the terminal shows the simulator's one-line summaries and the server's own messages.
"$BIN/gunicorn" config.wsgi:application \
    --bind "$BIND" --workers 2 --timeout 60 \
    --access-logfile "$LOG_DIR/access.log" --error-logfile - &
SERVER_PID=$!

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
for _ in $(seq 1 60); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "demo.sh: the web server exited; see the messages above" >&2
        exit 1
    fi
    if answers "$URL"; then
        break
    fi
    sleep 0.5
done
if ! answers "$URL"; then
    echo "demo.sh: the web server did not answer on $URL" >&2
    exit 1
fi

"$GREENISLE" simulate_bins --base-url "http://$OPEN_HOST:$PORT" &
SIMULATOR_PID=$!

echo
"$GREENISLE" demo_logins --url "$URL"
echo "Ctrl-C stops the web server and the simulator. Access log: $LOG_DIR/access.log"
echo

# Stay in the foreground until interrupted, or until either process ends on its own.
while kill -0 "$SERVER_PID" 2>/dev/null && kill -0 "$SIMULATOR_PID" 2>/dev/null; do
    sleep 1 &
    wait $! || true
done
echo "demo.sh: a demo process ended on its own" >&2
exit 1
