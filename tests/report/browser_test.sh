#!/usr/bin/env bash
# browser_test.sh TOKRL OUT_DIR
#
# End-to-end test of `tokrl report`: fabricates a small sweep of run
# directories (3 variants x 3 MinAtar games x 3 seeds, curves of 21 points),
# writes a report with the real binary, opens index.html in headless
# Chromium and checks that every plot rendered: the page's load handler sets
# <body data-plots-loaded="N" data-plots-total="M">, and N must equal M > 0.
# A screenshot of the page is left in OUT_DIR/screenshot.png.
#
# Needs gnuplot and chromium (Debian: apt-get install gnuplot-nox chromium).
# Without them it exits 77 (ctest SKIP_RETURN_CODE) unless
# TOKRL_REQUIRE_BROWSER=1, then it fails.
set -euo pipefail

tokrl=${1:?usage: browser_test.sh TOKRL OUT_DIR}
out=${2:?usage: browser_test.sh TOKRL OUT_DIR}

skip() {
  if [ "${TOKRL_REQUIRE_BROWSER:-0}" = 1 ]; then
    echo "FAIL: $1 (TOKRL_REQUIRE_BROWSER=1)"
    exit 1
  fi
  echo "SKIP: $1"
  exit 77
}
fail() {
  echo "FAIL: $1"
  exit 1
}

browser=""
for candidate in chromium chromium-browser google-chrome; do
  if command -v "$candidate" >/dev/null 2>&1; then
    browser=$(command -v "$candidate")
    break
  fi
done
[ -n "$browser" ] || skip "chromium not found (apt-get install chromium)"
command -v gnuplot >/dev/null 2>&1 || skip "gnuplot not found (apt-get install gnuplot-nox)"

rm -rf "$out"
mkdir -p "$out/runs"
out=$(cd "$out" && pwd)

# write_run DIR ENV SEED TOKENIZER PENULTIMATE FINAL
# A learning curve rising towards FINAL, with seed-dependent noise.
write_run() {
  local dir=$1 env=$2 seed=$3 tokenizer=$4 penultimate=$5 final=$6
  mkdir -p "$dir"
  cat >"$dir/config.toml" <<EOF
[agent]
type = "dqn"

[env]
id = "$env"

[network]
tokenizer = "$tokenizer"
penultimate = "$penultimate"
experts = 4
scale = 1

[train]
seed = $seed
total_steps = 50000
EOF
  awk -v seed="$seed" -v final="$final" 'BEGIN {
    srand(seed * 7919 + int(final * 13));
    for (step = 2500; step <= 50000; step += 2500) {
      v = final * (1 - exp(-step / 15000)) * (0.85 + 0.3 * rand());
      printf "{\"step\":%d,\"train/episode_return\":%.4f,\"train/loss\":%.4f}\n",
             step, v, 1 / (1 + step / 5000);
    }
  }' >"$dir/metrics.jsonl"
  # The label the trainer resolves (VariantLabel) and writes at the end.
  local label="dqn $tokenizer+$penultimate"
  case $penultimate in softmoe | moe) label="$label x4 experts" ;; esac
  echo "{\"env_steps\": 50000, \"variant\": \"$label\"}" >"$dir/summary.json"
}

games=(breakout asterix freeway)
finals=(12 6 30)
for v in "flatten dense 1.0" "perconv softmoe 1.4" "perconv dense 0.8"; do
  read -r tokenizer penultimate factor <<<"$v"
  for g in 0 1 2; do
    for seed in 0 1 2; do
      final=$(awk -v a="${finals[$g]}" -v f="$factor" 'BEGIN { print a * f }')
      write_run "$out/runs/$tokenizer-$penultimate/${games[$g]}/seed$seed" \
        "minatar/${games[$g]}" "$seed" "$tokenizer" "$penultimate" "$final"
    done
  done
done

start=$(date +%s.%N)
"$tokrl" report "$out/runs" --out "$out/report" --reps 2000 >"$out/report.log" 2>&1 ||
  { cat "$out/report.log"; fail "tokrl report failed"; }
end=$(date +%s.%N)
echo "tokrl report took $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') s"
grep -q "P(improvement)" "$out/report/summary.md" || fail "summary.md has no table"

chrome_flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --disable-dev-shm-usage --virtual-time-budget=5000)
page="file://$out/report/index.html"

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
timeout 120 "$browser" "${chrome_flags[@]}" --user-data-dir="$profile" \
  --dump-dom "$page" >"$out/dom.html" 2>"$out/chromium.log" ||
  { tail -20 "$out/chromium.log"; fail "chromium --dump-dom failed"; }

body=$(grep -o '<body[^>]*>' "$out/dom.html" || true)
echo "rendered: $body"
loaded=$(sed -n 's/.*data-plots-loaded="\([0-9]*\)".*/\1/p' <<<"$body")
total=$(sed -n 's/.*data-plots-total="\([0-9]*\)".*/\1/p' <<<"$body")
[ -n "$total" ] || fail "no data-plots-total on <body>"
[ -n "$loaded" ] || fail "the page's load script did not run (no data-plots-loaded)"
[ "$total" -gt 0 ] || fail "the page has no plots"
[ "$loaded" = "$total" ] || fail "only $loaded of $total plots rendered"

rm -rf "$profile"
profile=$(mktemp -d)
timeout 120 "$browser" "${chrome_flags[@]}" --user-data-dir="$profile" \
  --hide-scrollbars --window-size=1400,2600 --screenshot="$out/screenshot.png" \
  "$page" >>"$out/chromium.log" 2>&1 || fail "chromium --screenshot failed"
[ -s "$out/screenshot.png" ] || fail "no screenshot written"

echo "PASS: $loaded of $total plots rendered; screenshot $out/screenshot.png"
