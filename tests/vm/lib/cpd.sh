# Shared by the cloudprintd guest suites: TAP helpers, the reference cloud,
# the daemon's config, start and stop, registration, jobs.  Sourced from the
# top of the tree inside the VM; T is the suite's scratch directory.
# shellcheck shell=bash
B=${CPD_BIN:-build/helper}
T=${T:-/tmp/cpd}
PORT=8443
n=0
failed=0
mkdir -p $T

ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
diag() { echo "# $*"; }
bail() { echo "Bail out! $*"; tail -n 30 $T/cpd.log $T/cloud.log 2>/dev/null | sed 's/^/# /'; exit 1; }

export PORTAL_URL=https://127.0.0.1:$PORT PORTAL_CA=$T/pki/ca.pem
portal() { tests/cloud/portalctl "$@"; }
ctl() { $B/cloudprintctl -s $T/cpd.sock "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
field() { ctl status --json | json "d['$1']"; }
sysfs() { cat /sys/class/prengine/prengine0/$1; }
crc_of() { python3 -c "import zlib,sys; print(zlib.crc32(open(sys.argv[1],'rb').read()))" "$1"; }
after_deletion() { portal requests "$1" | json "d['after_deletion_count']"; }
# wait_for SECONDS COMMAND...: poll every 0.2 s until COMMAND succeeds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}
state_is() { [ "$(field state 2>/dev/null)" = "$1" ]; }

write_config() {
	cat > $T/cfg.json <<EOF
{
  "server": "https://127.0.0.1:$PORT",
  "ca_file": "${CA:-$T/pki/ca.pem}",
  "state_dir": "$T/state",
  "control_socket": "$T/cpd.sock",
  "poll_interval": 1,
  "poll_jitter": 10,
  "backoff_base": 0.2,
  "backoff_cap": 2,
  "request_timeout": ${REQUEST_TIMEOUT:-10},
  "policy": "${POLICY:-delete}",
  "mode": "${MODE:-poll}",
  "log_level": "debug"
  ${EXTRA:-}
}
EOF
}

start_daemon() {
	# shellcheck disable=SC2086
	$B/cloudprintd -c $T/cfg.json ${CPD_FLAGS:-} 2>>$T/cpd.log &
	CPD=$!
	wait_for 30 test -S $T/cpd.sock || bail "cloudprintd did not start"
}

stop_daemon() {
	kill -TERM $CPD 2>/dev/null
	wait $CPD 2>/dev/null
	rm -f $T/cpd.sock
}

# Register and claim; sets PID (the printer id).
register() {
	local out code
	out=$(ctl register) || return 1
	code=$(echo "$out" | sed -n 's/^claim code: //p')
	PID=$(echo "$out" | sed -n 's/^printer id: //p')
	portal claim "$code" >/dev/null || return 1
	wait_for 20 state_is registered
}

# submit NAME SIZE: a random file as a job; sets JOB and FILE.
submit() {
	FILE=$T/$1
	head -c "$2" /dev/urandom > "$FILE"
	JOB=$(portal submit "$PID" "$FILE" | json "d['job_id']")
}

job_field() { portal jobs "$PID" | json "[j for j in d['jobs'] if j['job_id']=='$1'][0]['$2']"; }
queue_is() { [ "$(sysfs queue_depth)" -eq "$1" ]; }
job_done() { [ "$(job_field "$1" state 2>/dev/null)" = done ]; }

# The reference cloud on $PORT, answering once it is up.
start_cloud() {
	python3 tests/cloud/cloudsrv.py --cert $T/pki/server.pem --key $T/pki/server.key \
		--port $PORT --poll-interval 1 ${CLOUD_ARGS:-} >> $T/cloud.log 2>&1 &
	CLOUD=$!
	wait_for 90 eval 'portal health >/dev/null 2>&1' || bail "the reference cloud did not start"
}

# ---- set-up ----
# CPD_NO_INSMOD=1: the suite loads the module itself, when it wants.
if [ -z "${CPD_NO_INSMOD:-}" ]; then
	lsmod | grep -q '^prengine ' || insmod driver/prengine.ko || bail "insmod failed"
fi
tests/cloud/gen-certs.sh $T/pki >/dev/null 2>&1 || bail "gen-certs failed"
CPD=
start_cloud
trap 'kill $CPD $CLOUD 2>/dev/null' EXIT
