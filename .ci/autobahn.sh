#!/usr/bin/env bash
# Runs the Autobahn|Testsuite against webwire in both roles and fails unless
# every case is OK (INFORMATIONAL cases are informative by design) and every
# close is OK. Usage: .ci/autobahn.sh CASES   (e.g. '1.*,2.*,…')
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:?cases}
ab=../shared/autobahn
cargo build --release --features deflate --example echo_server --example autobahn_client
bin="${CARGO_TARGET_DIR:-target}/release/examples"
"$ab/setup.sh" >/dev/null

check() {  # summary file
    local summary=$1
    cat "$summary"
    local counts close
    counts=$(grep -m1 '^OK=' "$summary")
    close=$(grep -m1 '^close:' "$summary")
    for bad in NON-STRICT FAILED UNIMPLEMENTED; do
        if ! grep -q "$bad=0" <<<"$counts"; then
            echo "autobahn: $bad cases in: $counts" >&2
            return 1
        fi
    done
    if grep -qE 'FAILED=[1-9]|NON-STRICT=[1-9]|UNIMPLEMENTED=[1-9]' <<<"$close"; then
        echo "autobahn: bad closes: $close" >&2
        return 1
    fi
}

port=$((20000 + RANDOM % 20000))
"$bin/echo_server" --addr "127.0.0.1:$port" > target/ab-echo.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening target/ab-echo.log && break; sleep 0.1; done

AGENT=webwire "$ab/run-server-suite.sh" "127.0.0.1:$port" target/ab-server "$cases" > target/ab-server.txt 2>&1
echo "== server role"
check target/ab-server.txt

cport=$((port + 1))
CASES="$cases" "$ab/run-client-suite.sh" "$cport" target/ab-client \
    "$bin/autobahn_client" "ws://127.0.0.1:$cport" > target/ab-client.txt 2>&1
echo "== client role"
check target/ab-client.txt
