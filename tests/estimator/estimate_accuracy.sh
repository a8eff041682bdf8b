#!/usr/bin/env bash
# The estimator's tensor bytes against the counting allocator's peak on the CPU: every
# configuration of latentcast-bench estimator's CPU grid (every backend, the three checkpointing
# modes, batch 1..32, two image sizes, two widths, caching, cross-attention) within 5 %.
# Usage: estimate_accuracy.sh LATENTCAST-CLI LATENTCAST-BENCH WORKDIR
set -euo pipefail
cli=$1 bench=$2 dir=$3
rm -rf "$dir" && mkdir -p "$dir"
{
  printf 'date,load,temp\n'
  for i in $(seq 0 499); do
    printf '2020-%02d-%02d %02d:00,%s,%s\n' $((1 + i / 672)) $((1 + (i / 24) % 28)) $((i % 24)) \
      "$(( (i * 7) % 13 )).25" "$((i % 24))"
  done
} > "$dir/series.csv"
"$cli" new --csv "$dir/series.csv" --out "$dir/p.lcproj" --lookback 24 --horizon 24 > /dev/null
"$bench" estimator --project "$dir/p.lcproj" --device cpu --steps 2 --max-error 0.05 --json \
  > "$dir/estimator.json"
# --max-error failed the run above when any configuration was off; check that the grid was run.
rows=$(grep -c '"configuration":' "$dir/estimator.json")
[ "$rows" -ge 15 ] || { echo "only $rows configurations measured"; exit 1; }
echo "$rows configurations within 5 %"
