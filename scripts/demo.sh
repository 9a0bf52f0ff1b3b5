#!/usr/bin/env bash
# demo: ship testdata/logs with rules.hcl.example into a throwaway InfluxDB
# 1.8 and show what arrived.
#
# Run by `make demo`, which builds bin/logmetrics, bin/influxd and bin/influx
# first. Needs bash (with /dev/tcp) and coreutils, nothing else. InfluxDB runs
# on free loopback ports with its data, and the agent's state, in a temporary
# folder that is removed on every exit path. Exits non-zero unless InfluxDB
# ends up holding exactly the points `logmetrics test` computes from the same
# files (the agent's own self-metrics, which are no line's, counted apart).
set -euo pipefail
cd "$(dirname "$0")/.."

readonly config=rules.hcl.example
readonly logs=(
  testdata/logs/nginx/access.log
  testdata/logs/app/app.jsonl
  testdata/logs/app/app.logfmt
  testdata/logs/syslog/auth.log
  testdata/logs/samples/elastic-examples/kafka1/server.log.2016-12-19-20
)
readonly db=logs
readonly self=logmetrics_agent # the measurement of the agent's self-metrics
readonly self_every=1s         # agent.self_metrics in this demo (off by default)
# The file whose second half is written while the agent runs, and its
# source: the agent row's rates need lines read between two self-metrics
# points (all the others are read within the first second).
readonly growing=testdata/logs/app/app.logfmt growing_source=app_logfmt
readonly start_timeout=30 # seconds for influxd to answer /ping
readonly ship_timeout=60  # seconds for every point to arrive
readonly stop_timeout=30  # seconds for the agent to exit after SIGTERM (its grace is 15s)

# Per measurement of rules.hcl.example, a breakdown by tag. A count of one
# field counts the points only when every point has that field.
declare -A breakdown=(
  [nginx_requests]='SELECT count(request_time) AS requests FROM nginx_requests GROUP BY status'
  [app_requests]='SELECT count(*) FROM app_requests GROUP BY status'
  [ssh_logins]='SELECT count(port) AS attempts FROM ssh_logins GROUP BY host, result'
  [kafka_events]='SELECT count(message) AS events FROM kafka_events GROUP BY level'
  [kafka_exceptions]='SELECT count(reason) AS exceptions FROM kafka_exceptions GROUP BY exception'
  [$self]="SELECT last(source_lines_read_total) AS lines_read, last(source_multiline_records_total) AS records FROM $self WHERE source <> '' GROUP BY source"
)

die() {
  printf 'demo: %s\n' "$1" >&2
  exit 1
}

# fail MESSAGE LOG: die, showing the end of LOG (it lives in the temporary
# folder, which is about to go).
fail() {
  printf 'demo: %s\n--- %s (last 30 lines)\n' "$1" "${2##*/}" >&2
  tail -n 30 "$2" >&2 || true
  exit 1
}

for bin in bin/logmetrics bin/influxd bin/influx; do
  [[ -x $bin ]] || die "$bin is missing: run \`make demo\`"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/logmetrics-demo.XXXXXX")
influxd_pid='' agent_pid=''

# stop PID: SIGTERM, SIGKILL after 10s, then reap it.
stop() {
  local pid=$1 i
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap '' HUP INT TERM
  stop "$agent_pid"
  stop "$influxd_pid"
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# now_ms: a clock in milliseconds, for timings.
now_ms() {
  local t=${EPOCHREALTIME:-}
  t=${t//[!0-9]/} # the decimal separator depends on the locale
  if [[ -n $t ]]; then echo $((10#$t / 1000)); else echo $((SECONDS * 1000)); fi
}

# since START_MS: seconds since START_MS, like 1.25s.
since() {
  local ms=$(($(now_ms) - $1))
  printf '%d.%02ds' $((ms / 1000)) $((ms % 1000 / 10))
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port [EXCEPT]: a loopback port nothing listened on a moment ago.
free_port() {
  local p i
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 40000))
    [[ $p != "${1:-}" ]] && ! listening "$p" && echo "$p" && return
  done
  return 1
}

# ping PORT: whether /ping answers 204.
ping() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    printf 'GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    read -r -t 2 _ code _ <&3
    [[ $code == 204 ]]
  ) 2>/dev/null
}

# start_influxd: runs influxd on free ports and waits for /ping. Sets port
# and influxd_pid. Returns 1 when influxd exited because a port was taken in
# the meantime, so the caller can try again.
start_influxd() {
  local rpc_port deadline
  port=$(free_port) || die "no free loopback port"
  rpc_port=$(free_port "$port") || die "no free loopback port"
  (
    unset "${!INFLUXDB_@}" # only ours configure the server
    export INFLUXDB_HTTP_BIND_ADDRESS="127.0.0.1:$port" \
      INFLUXDB_BIND_ADDRESS="127.0.0.1:$rpc_port" \
      INFLUXDB_META_DIR="$tmp/influxdb/meta" \
      INFLUXDB_DATA_DIR="$tmp/influxdb/data" \
      INFLUXDB_DATA_WAL_DIR="$tmp/influxdb/wal" \
      INFLUXDB_REPORTING_DISABLED=true \
      INFLUXDB_HTTP_LOG_ENABLED=false \
      INFLUXDB_DATA_QUERY_LOG_ENABLED=false \
      INFLUXDB_MONITOR_STORE_ENABLED=false \
      INFLUXDB_LOGGING_LEVEL=warn \
      INFLUXDB_LOGGING_SUPPRESS_LOGO=true
    exec bin/influxd run -config /dev/null # no config file: defaults and the above
  ) >"$tmp/influxd.log" 2>&1 &
  influxd_pid=$!
  deadline=$((SECONDS + start_timeout))
  until ping "$port"; do
    if ! kill -0 "$influxd_pid" 2>/dev/null; then
      wait "$influxd_pid" || true
      influxd_pid=''
      [[ $(<"$tmp/influxd.log") == *'address already in use'* ]] && return 1
      fail "influxd exited before answering /ping on 127.0.0.1:$port" "$tmp/influxd.log"
    fi
    ((SECONDS < deadline)) || fail "influxd did not answer /ping on 127.0.0.1:$port within ${start_timeout}s" "$tmp/influxd.log"
    sleep 0.1
  done
}

influx() { bin/influx -host 127.0.0.1 -port "$port" "$@"; }

# csv QUERY: the result as CSV, one header line per series.
csv() { influx -database "$db" -format csv -execute "$1"; }

# count_stored: sets stored[measurement] to the points InfluxDB holds, and
# stored_total, but for the self-metrics' points: self_points. SELECT *
# gives one row per point, whatever fields it has (counting a field would
# miss the points without it).
count_stored() {
  local out line m
  out=$(csv 'SELECT * FROM /.*/') || return 1
  stored=() stored_total=0 self_points=0
  while IFS= read -r line; do
    [[ -z $line || $line == name,* ]] && continue
    m=${line%%,*}
    if [[ $m == "$self" ]]; then
      self_points=$((self_points + 1))
      continue
    fi
    stored[$m]=$((${stored[$m]:-0} + 1))
    stored_total=$((stored_total + 1))
  done <<<"$out"
}

# lines_read SOURCE: the lines of SOURCE the agent's last self-metrics
# point counts (0 before the first).
lines_read() {
  local v
  v=$(csv "SELECT last(source_lines_read_total) FROM $self WHERE source = '$1'" | sed -n 2p)
  v=${v##*,}
  echo "${v:-0}"
}

# table: aligns tab-separated rows read from stdin; the first is the header,
# underlined like the influx CLI's column format.
table() {
  local -a rows widths cells
  local i j cell line
  mapfile -t rows
  for i in "${!rows[@]}"; do
    rows[i]=${rows[i]//$'\t'/$'\x1f'} # a tab is IFS white space: empty cells would vanish
    IFS=$'\x1f' read -r -a cells <<<"${rows[i]}"
    for j in "${!cells[@]}"; do
      ((${#cells[j]} <= ${widths[j]:-0})) || widths[j]=${#cells[j]}
    done
  done
  for i in "${!rows[@]}"; do
    IFS=$'\x1f' read -r -a cells <<<"${rows[i]}"
    line=''
    for j in "${!widths[@]}"; do
      printf -v cell '%-*s ' "${widths[j]}" "${cells[j]:-}"
      line+=$cell
    done
    printf '%s\n' "${line%"${line##*[! ]}"}"
    if ((i == 0)); then
      line=''
      for j in "${!widths[@]}"; do
        printf -v cell '%-*s ' "${widths[j]}" "${cells[j]//?/-}"
        line+=$cell
      done
      printf '%s\n' "${line%"${line##*[! ]}"}"
    fi
  done
}

# grouped QUERY: a GROUP BY query as one table, a column per tag then one
# per value (the influx CLI prints a table per group).
grouped() {
  local out line rest tags values header='' kv
  local -a cols
  out=$(csv "$1") || return 1
  {
    while IFS= read -r line; do
      [[ -z $line ]] && continue
      if [[ $line == name,tags,time,* ]]; then
        values=${line#name,tags,time,}
        continue
      fi
      rest=${line#*,} # drop the measurement
      if [[ $rest == \"* ]]; then # several tags: "k=v,k=v"
        tags=${rest#\"}
        tags=${tags%%\"*}
        rest=${rest#\"*\",}
      else
        tags=${rest%%,*}
        rest=${rest#*,}
      fi
      rest=${rest#*,} # drop the time
      IFS=, read -r -a cols <<<"$tags"
      if [[ -z $header ]]; then
        for kv in "${cols[@]}"; do header+=${kv%%=*}$'\t'; done
        printf '%s%s\n' "$header" "${values//,/$'\t'}"
      fi
      line=''
      for kv in "${cols[@]}"; do line+=${kv#*=}$'\t'; done
      printf '%s%s\n' "$line" "${rest//,/$'\t'}"
    done <<<"$out"
  } | table
}

# show QUERY: the result in the influx CLI's column format, without the
# "name: ..." line the heading already gives.
show() {
  local out line
  out=$(influx -database "$db" -format column -precision rfc3339 -execute "$1") || return 1
  while IFS= read -r line; do
    [[ $line == 'name: '* || -z $line ]] || printf '%s\n' "$line"
  done <<<"$out"
}

heading() { printf '\n== %s\n' "$1"; }
query() { printf -- '-- %s%s\n' "$1" "${2:-}"; }

# 1. InfluxDB on free loopback ports, in the temporary folder.
t=$(now_ms)
for attempt in 1 2 3; do
  start_influxd && break
  ((attempt < 3)) || fail "influxd could not bind a free port in 3 attempts" "$tmp/influxd.log"
done
influx -execute "CREATE DATABASE $db" >/dev/null
printf 'bin/influxd on 127.0.0.1:%s, database %s (up in %s)\n' "$port" "$db" "$(since "$t")"

export LOGMETRICS_STATE_DIR="$tmp/state"
export INFLUX_URL="http://127.0.0.1:$port" INFLUX_BUCKET="$db/autogen" INFLUX_TOKEN=''

# 2. What the rules make of the files, by the dry run.
bin/logmetrics test -config "$config" "${logs[@]}" >"$tmp/points.lp" 2>"$tmp/test.log" ||
  fail "logmetrics test -config $config failed" "$tmp/test.log"
expected_total=$(wc -l <"$tmp/points.lp")
expected_total=$((expected_total)) # drop wc's padding
declare -A expected=()
while IFS= read -r line; do
  m=${line%%[, ]*}
  expected[$m]=$((${expected[$m]:-0} + 1))
done <"$tmp/points.lp"
printf 'logmetrics test: %d points from %d files\n' "$expected_total" "${#logs[@]}"
((expected_total > 0)) || fail "logmetrics test made no points" "$tmp/test.log"

# 3. The agent ships them, with its self-metrics on, from a copy of the
# files next to a copy of the rules (their paths are relative to it):
# $growing holds its first half at the start, and gets the second once a
# self-metrics point has counted the first. Stop it once InfluxDB holds them
# all.
run=$tmp/run
for f in "${logs[@]}"; do
  mkdir -p "$run/${f%/*}"
  cp "$f" "$run/$f"
done
cp "$config" "$run/rules.hcl"
half=$(($(wc -l <"$growing") / 2))
head -n "$half" "$growing" >"$run/$growing"
appended=''
export LOGMETRICS_SELF_METRICS=$self_every
t=$(now_ms)
bin/logmetrics run -config "$run/rules.hcl" >"$tmp/agent.log" 2>&1 &
agent_pid=$!
declare -A stored=()
stored_total=0 self_points=0
deadline=$((SECONDS + ship_timeout))
while :; do
  count_stored 2>/dev/null || stored_total=0 # the agent's log tells why, on failure
  if [[ -z $appended && $(lines_read "$growing_source" 2>/dev/null) == "$half" ]]; then
    tail -n +$((half + 1)) "$growing" >>"$run/$growing"
    appended=1
  fi
  ((stored_total < expected_total)) || break
  kill -0 "$agent_pid" 2>/dev/null ||
    fail "logmetrics run exited with $stored_total of $expected_total points in InfluxDB" "$tmp/agent.log"
  ((SECONDS < deadline)) ||
    fail "InfluxDB holds $stored_total of $expected_total points after ${ship_timeout}s" "$tmp/agent.log"
  sleep 0.2
done
shipped=$(since "$t")

kill -TERM "$agent_pid" 2>/dev/null || true
deadline=$((SECONDS + stop_timeout))
while kill -0 "$agent_pid" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "logmetrics run still running ${stop_timeout}s after SIGTERM" "$tmp/agent.log"
  sleep 0.1
done
rc=0
wait "$agent_pid" || rc=$?
agent_pid=''
((rc == 0)) || fail "logmetrics run exited with status $rc after SIGTERM" "$tmp/agent.log"
printf 'logmetrics run: %d points in %s (%s written in two halves), then exit 0 on SIGTERM\n' "$stored_total" "$shipped" "$growing"

# 4. What InfluxDB holds.
heading 'measurements'
show 'SHOW MEASUREMENTS'

measurements=()
while IFS=, read -r _ m; do
  [[ -n $m && $m != name ]] && measurements+=("$m")
done <<<"$(csv 'SHOW MEASUREMENTS')"

for m in "${measurements[@]}"; do
  heading "$m"
  series=$(csv "SHOW SERIES FROM \"$m\"" | wc -l)
  query "SHOW SERIES FROM \"$m\" LIMIT 5" " ($((series - 1)) series)"
  show "SHOW SERIES FROM \"$m\" LIMIT 5"
  if [[ -n ${breakdown[$m]:-} ]]; then
    query "${breakdown[$m]}"
    grouped "${breakdown[$m]}"
  fi
  [[ $m == "$self" ]] && continue # a column per counter: too wide to show
  query "SELECT * FROM \"$m\" LIMIT 5"
  show "SELECT * FROM \"$m\" LIMIT 5"
done

# 5. The check: after the agent stopped, exactly the dry run's points, and
# apart from them the self-metrics.
count_stored || die "could not count the points in InfluxDB"
heading 'points per measurement'
{
  printf 'measurement\texpected\tstored\n'
  for m in $(printf '%s\n' "${!expected[@]}" "${!stored[@]}" | sort -u); do
    printf '%s\t%d\t%d\n' "$m" "${expected[$m]:-0}" "${stored[$m]:-0}"
  done
} | table
echo
printf 'expected %d points, InfluxDB holds %d\n' "$expected_total" "$stored_total"
printf 'and %d points of the agent'"'"'s self-metrics (%s, every %s; no line'"'"'s, so not in logmetrics test'"'"'s output)\n' \
  "$self_points" "$self" "$self_every"
((self_points > 0)) || die "no self-metrics points in $self"
((stored_total == expected_total)) || exit 1
for m in "${!expected[@]}" "${!stored[@]}"; do
  [[ ${expected[$m]:-0} == "${stored[$m]:-0}" ]] || die "measurement $m: expected ${expected[$m]:-0} points, InfluxDB holds ${stored[$m]:-0}"
done

# 6. The Grafana dashboard of the rules, its panels, and what each panel's
# query returns over the time of its measurement's points (Grafana's macros
# replaced as Grafana would: $timeFilter by that range, $__interval by 10s,
# an aggregate rule's window, or for the agent row by self_every).
heading 'Grafana dashboard'
bin/logmetrics dashboard -config "$config" -datasource logmetrics >"$tmp/dashboard.json" ||
  die "logmetrics dashboard -config $config failed"
bin/logmetrics dashboard -config "$config" -list >"$tmp/panels.tsv" ||
  die "logmetrics dashboard -config $config -list failed"
printf 'bin/logmetrics dashboard -config %s: %d bytes of JSON, %d panels\n' \
  "$config" "$(wc -c <"$tmp/dashboard.json")" "$(wc -l <"$tmp/panels.tsv")"
[[ $(<"$tmp/dashboard.json") == "$(<deploy/grafana/dashboards/logmetrics.json)" ]] ||
  die "deploy/grafana/dashboards/logmetrics.json is not the dashboard of $config: go test ./internal/dashboard -update"

# edge MEASUREMENT ORDER: the time (ms) of its first (ASC) or last (DESC) point.
edge() {
  local line
  line=$(csv "SELECT * FROM \"$1\" ORDER BY time $2 LIMIT 1" | sed -n 2p)
  line=${line#*,}
  echo $((${line%%,*} / 1000000))
}

row=''
while IFS=$'\t' read -r panel_row title q; do
  if [[ $panel_row != "$row" ]]; then
    row=$panel_row
    printf -- '-- row %s\n' "$row"
  fi
  m=${q#* FROM \"}
  m=${m%%\"*}
  interval=10s
  [[ $m == "$self" ]] && interval=$self_every
  from=$(($(edge "$m" ASC) - 60000)) to=$(($(edge "$m" DESC) + 60000))
  q=${q//\$timeFilter/time >= ${from}ms and time <= ${to}ms}
  q=${q//\$__interval_ms/$((${interval%s} * 1000))}
  q=${q//\$__interval/$interval}
  out=$(csv "$q") || die "panel $title: query failed: $q"
  rows=$(grep -cv '^name,' <<<"$out" || true)
  # The row with the highest value, as: tags time values.
  top=$(awk -F, '!/^name,/ { for (i = NF; i > 0 && $i ~ /^-?[0-9.e+-]+$/; i--) ; v = 0; for (j = i + 2; j <= NF; j++) if ($j + 0 > v) v = $j + 0; if (v > best || !seen) { best = v; seen = 1; line = $0 } } END { print line }' <<<"$out")
  printf '   %-44s %4d rows, the highest: %s\n' "$title" "$rows" "${top#*,}"
  ((rows > 0)) || die "panel $title: no rows from $q"
done <"$tmp/panels.tsv"

cat <<EOT

To see it in Grafana 10 or later, provision it: copy
  deploy/grafana/provisioning/datasources/logmetrics.yaml (InfluxQL data source "logmetrics":
    set url and database to your InfluxDB's; this demo's, 127.0.0.1:$port, database $db, ends with it)
  deploy/grafana/provisioning/dashboards/logmetrics.yaml (a file provider)
to /etc/grafana/provisioning/datasources/ and .../dashboards/, and
  deploy/grafana/dashboards/logmetrics.json (this dashboard, checked above)
to the provider's folder, /var/lib/grafana/dashboards/logmetrics/; then restart Grafana.
Or import the JSON in Grafana (Dashboards > New > Import) and pick the InfluxDB data source.
EOT
