#!/usr/bin/env bash
# Does the CI gate cry wolf on this machine? PAIRS pairs of identical gated runs (bench --save-baseline, then
# bench --baseline: 3 rounds each, the default 5% gate), then one run while two processes burn the CPUs, which must
# be reported as busy, not regressed. Prints one line per pair and the busy comparison; writes everything under OUT.
# Usage: bash benchmarks/gate_false_alarms.sh [PAIRS] [OUT]    (defaults: 20, /tmp/envdoctor-gate)
set -uo pipefail
PAIRS="${1:-20}"
OUT="${2:-/tmp/envdoctor-gate}"
E=(python -m envdoctor)
BENCH=(bench --device cpu --workload mlp)
rm -rf "$OUT"; mkdir -p "$OUT"
for i in $(seq 1 "$PAIRS"); do
  "${E[@]}" "${BENCH[@]}" --save-baseline "$OUT/base$i.json" > /dev/null 2>&1
  "${E[@]}" "${BENCH[@]}" --baseline "$OUT/base$i.json" --output "$OUT/cur$i.json" --json > /dev/null 2> "$OUT/err$i.txt"
  rc=$?
  verdict=$("${E[@]}" compare "$OUT/base$i.json" "$OUT/cur$i.json" --json 2>/dev/null | python -c \
    "import json,sys; c=json.load(sys.stdin)['cells'][0]; print(c['verdict'], round(c['ratio'], 3), c['note'][:90])")
  echo "pair $i: bench exit $rc; compare: $verdict"
done
echo "== under load"
"${E[@]}" "${BENCH[@]}" --save-baseline "$OUT/quiet.json" > /dev/null 2>&1
python -c "while True: pass" & burner1=$!
python -c "while True: pass" & burner2=$!
sleep 1
"${E[@]}" "${BENCH[@]}" --baseline "$OUT/quiet.json" --output "$OUT/busy.json" > "$OUT/busy.txt" 2>&1
echo "busy bench exit $?"
kill "$burner1" "$burner2"
"${E[@]}" compare "$OUT/quiet.json" "$OUT/busy.json" | tail -4
