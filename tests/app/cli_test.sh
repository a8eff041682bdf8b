#!/usr/bin/env bash
# latentcast-cli end to end: real files in, exit codes and messages out (DESIGN.md section 7).
# usage: cli_test.sh PATH/TO/latentcast-cli SCRATCH_DIR
set -uo pipefail
cli=$1
dir=$2
rm -rf "$dir" && mkdir -p "$dir"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect CODE SUBSTRING -- command...: exit code must be CODE and stdout+stderr must contain SUBSTRING.
expect() {
  local code=$1 needle=$2; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -ne "$code" ]; then fail "$* -> exit $rc, expected $code; output: $out"; return; fi
  case "$out" in *"$needle"*) ;; *) fail "$* -> output lacks '$needle': $out";; esac
}

printf 'date,HUFL,OT\n2020-01-01 00:00,1.5,10\n2020-01-01 01:00,1.7,11\n' > "$dir/tiny.csv"
for i in $(seq 2 400); do
  printf '2020-01-%02d %02d:00,%s,%s\n' $((1 + i / 24)) $((i % 24)) "$i.25" "$((i % 7))" >> "$dir/tiny.csv"
done

expect 0 "latentcast-cli" -- "$cli" --version
expect 2 "usage:" -- "$cli"
expect 2 "unknown command 'frobnicate'" -- "$cli" frobnicate
expect 2 "--csv is required" -- "$cli" inspect
expect 2 "--bogus: unknown option" -- "$cli" inspect --csv "$dir/tiny.csv" --bogus

# inspect: text and JSON
expect 0 "rows:       401" -- "$cli" inspect --csv "$dir/tiny.csv"
expect 0 '"interval_seconds": 3600' -- "$cli" inspect --csv "$dir/tiny.csv" --json
expect 0 '"date_column": "date"' -- "$cli" inspect --csv "$dir/tiny.csv" --json

# inspect: bad files exit 2 naming the file (and the line where there is one)
: > "$dir/empty.csv"
expect 2 "empty.csv" -- "$cli" inspect --csv "$dir/empty.csv"
printf 'a,b\n1,2\n3\n' > "$dir/ragged.csv"
expect 2 "ragged.csv:3:" -- "$cli" inspect --csv "$dir/ragged.csv"
printf '\x00\x01\x02binary' > "$dir/binary.csv"
expect 2 "binary.csv" -- "$cli" inspect --csv "$dir/binary.csv"
printf 'name,city\nann,oslo\nbob,rome\n' > "$dir/text.csv"
expect 2 "no numeric column" -- "$cli" inspect --csv "$dir/text.csv"
expect 2 "missing.csv" -- "$cli" inspect --csv "$dir/missing.csv"
printf 'a,b\n1,2\n,4\n5,6\n' > "$dir/gaps.csv"
expect 0 "line 3, column 'a'" -- "$cli" inspect --csv "$dir/gaps.csv"

# new + validate
expect 0 "wrote" -- "$cli" new --csv "$dir/tiny.csv" --out "$dir/p.lcproj" --target OT --lookback 24 --horizon 12
[ -f "$dir/p.lcproj" ] || fail "new did not write the project"
grep -q '"path": "tiny.csv"' "$dir/p.lcproj" || fail "dataset path not stored relative: $(grep path "$dir/p.lcproj")"
expect 2 "already exists" -- "$cli" new --csv "$dir/tiny.csv" --out "$dir/p.lcproj"
expect 2 "no numeric column 'XX'" -- "$cli" new --csv "$dir/tiny.csv" --out "$dir/q.lcproj" --target XX
expect 0 "valid" -- "$cli" validate --project "$dir/p.lcproj"
expect 0 '"batch_size": 8' -- "$cli" validate --project "$dir/p.lcproj" --set memory.batch_size=8 --json
expect 2 '--set memory.batch_size: must be an integer >= 1' -- \
  "$cli" validate --project "$dir/p.lcproj" --set memory.batch_size=four
expect 2 "memory.attention_backend" -- "$cli" validate --project "$dir/p.lcproj" --set memory.attention_backend=flashy
expect 2 "fewer than lookback + horizon" -- "$cli" validate --project "$dir/p.lcproj" --set dataset.lookback=5000
before=$(sha256sum "$dir/p.lcproj")
head -c 200 "$dir/p.lcproj" > "$dir/truncated.lcproj"
expect 2 "truncated.lcproj" -- "$cli" validate --project "$dir/truncated.lcproj"
[ "$before" = "$(sha256sum "$dir/p.lcproj")" ] || fail "a failed validate changed the project file"
sed 's/"batch_size": [0-9]*/"batch_size": "four"/' "$dir/p.lcproj" > "$dir/bad.lcproj"
expect 2 'bad.lcproj: memory.batch_size: must be an integer >= 1 and <= 65536, got "four"' -- \
  "$cli" validate --project "$dir/bad.lcproj"
expect 0 "valid" -- "$cli" validate --project "$dir/p.lcproj" --set model.channels=16,32 --set model.attention_levels=1
mv "$dir/tiny.csv" "$dir/moved.csv"
expect 2 "tiny.csv" -- "$cli" validate --project "$dir/p.lcproj"
mv "$dir/moved.csv" "$dir/tiny.csv"

# missing values: rejected by default with the line, accepted with fill_forward
{ echo "x,y"; for i in $(seq 1 300); do if [ "$i" = 50 ]; then echo "$i,"; else echo "$i,$((i * 2))"; fi; done; } > "$dir/holes.csv"
expect 2 "holes.csv:51:" -- "$cli" new --csv "$dir/holes.csv" --out "$dir/h.lcproj" --lookback 24 --horizon 12
expect 0 "wrote" -- "$cli" new --csv "$dir/holes.csv" --out "$dir/h.lcproj" --lookback 24 --horizon 12 \
  --set dataset.missing_policy=fill_forward

# demo
expect 0 "demo.lcproj" -- "$cli" demo --out "$dir/demo"
expect 0 "valid" -- "$cli" validate --project "$dir/demo/demo.lcproj"
expect 0 "rows:       4000" -- "$cli" inspect --csv "$dir/demo/demo.csv"

# train / forecast / evaluate on a tiny CPU configuration of the demo project
tiny=(--set model.image_size=16 --set model.channels=16,32 --set model.attention_levels=1 --set model.heads=2
      --set dataset.lookback=32 --set dataset.horizon=16 --set dataset.stride=8 --set model.diffusion_steps=100
      --set training.vae_steps=20 --set forecasting.steps=5 --set forecasting.samples=4)
demo=$dir/demo/demo.lcproj
expect 2 "--steps or --epochs" -- "$cli" train --project "$demo" --steps 3 --epochs 1
expect 2 "--device" -- "$cli" train --project "$demo" --steps 3 --device tpu "${tiny[@]}"
expect 2 "memory.attention_backend" -- "$cli" train --project "$demo" --steps 3 "${tiny[@]}" \
  --set memory.attention_backend=warp
expect 2 "--checkpoint" -- "$cli" forecast --project "$demo" "${tiny[@]}"
expect 0 "completed after 12 steps" -- "$cli" train --project "$demo" --steps 12 --device cpu --quiet \
  --metrics "$dir/metrics.jsonl" "${tiny[@]}"
[ "$(grep -c '"stage":"diffusion"' "$dir/metrics.jsonl")" = 12 ] || fail "metrics: expected 12 diffusion lines"
grep -q '"runs": \[' "$demo" && grep -q '"status": "completed"' "$demo" || fail "train did not record the run in the project"
last=$(ls -d "$dir"/demo/demo.runs/run-*/ | head -1)
[ -f "$last/last.pt" ] && [ -f "$last/best.pt" ] || fail "train did not keep best.pt and last.pt in $last"
expect 0 "wrote" -- "$cli" forecast --project "$demo" --checkpoint "$last/last.pt" --out "$dir/fc.csv" \
  --device cpu --seed 3 "${tiny[@]}"
# a header and horizon x columns rows, quantiles ordered on every row
[ "$(wc -l < "$dir/fc.csv")" = $((1 + 16 * $(head -1 "$dir/demo/demo.csv" | tr ',' '\n' | tail -n +2 | wc -l))) ] ||
  fail "forecast rows: $(wc -l < "$dir/fc.csv")"
awk -F, 'NR > 1 && !($3 <= $4 && $4 <= $5 && $5 <= $6 && $6 <= $7) { bad = 1 } END { exit bad }' "$dir/fc.csv" ||
  fail "forecast quantiles out of order"
"$cli" forecast --project "$demo" --checkpoint "$last/last.pt" --device cpu --seed 3 "${tiny[@]}" > "$dir/fc2.csv"
cmp -s "$dir/fc.csv" "$dir/fc2.csv" || fail "forecast with the same seed differs"
expect 0 '"seasonal_naive"' -- "$cli" evaluate --project "$demo" --checkpoint "$last/last.pt" --device cpu \
  --max-windows 4 --json "${tiny[@]}"
expect 0 "coverage" -- "$cli" evaluate --project "$demo" --checkpoint "$last/last.pt" --device cpu \
  --max-windows 4 --json "${tiny[@]}"
# a checkpoint of another configuration is refused with a message, and a damaged one names the file
expect 2 "model.image_size: the checkpoint was trained with 16, the project has 32" -- "$cli" forecast --project "$demo" --checkpoint "$last/last.pt" --device cpu \
  "${tiny[@]}" --set model.image_size=32
head -c 1000 "$last/last.pt" > "$dir/broken.pt"
expect 2 "broken.pt" -- "$cli" forecast --project "$demo" --checkpoint "$dir/broken.pt" --device cpu "${tiny[@]}"

# measure: a short real run of both stages whose memory is counted (on the CPU, LibTorch's allocations)
expect 2 "--steps" -- "$cli" measure --project "$demo" --device cpu --steps 0 "${tiny[@]}"
expect 2 "--steps" -- "$cli" measure --project "$demo" --device cpu --steps -3 "${tiny[@]}"
expect 2 "--steps" -- "$cli" measure --project "$demo" --device cpu --steps three "${tiny[@]}"
expect 2 "--device" -- "$cli" measure --project "$demo" --device tpu "${tiny[@]}"
# Fewer windows and 8 x 8 latents, so that stage 2's peak is the training step, not the latent caching.
measure_json() { "$cli" measure --project "$demo" --device cpu --steps 2 --json --no-save "${tiny[@]}" \
  --set dataset.stride=32 --set model.latent_factor=2 "$@" 2> "$dir/measure.err"; }
json_int() { printf '%s\n' "$1" | sed -n "s/^ *\"$2\": \([0-9][0-9]*\),\{0,1\}$/\1/p"; }
runs_before=$(ls -d "$dir"/demo/demo.runs/run-* | wc -l)
project_before=$(sha256sum "$demo")
small=$(measure_json --set memory.batch_size=4) || fail "measure --json failed: $(cat "$dir/measure.err")"
for key in device peak_allocated_bytes peak_reserved_bytes context_bytes steps vae_peak_allocated_bytes \
           diffusion_peak_allocated_bytes vae_peak_reserved_bytes diffusion_peak_reserved_bytes; do
  case "$small" in *"\"$key\":"*) ;; *) fail "measure JSON lacks $key: $small";; esac
done
case "$small" in *'"device": "cpu"'*) ;; *) fail "measure JSON: device is not cpu: $small";; esac
[ "$(json_int "$small" steps)" = 2 ] || fail "measure JSON: steps is not 2: $small"
peak=$(json_int "$small" peak_allocated_bytes)
vae_peak=$(json_int "$small" vae_peak_allocated_bytes)
diff_small=$(json_int "$small" diffusion_peak_allocated_bytes)
if [ -z "$peak" ] || [ -z "$vae_peak" ] || [ -z "$diff_small" ]; then
  fail "measure JSON: byte counts are not integers: $small"
else
  [ "$peak" -gt 0 ] || fail "measure: peak_allocated_bytes is $peak"
  [ "$vae_peak" -le "$peak" ] && [ "$diff_small" -le "$peak" ] ||
    fail "measure: a stage peak exceeds the overall peak: $small"
  [ "$(json_int "$small" peak_reserved_bytes)" = "$peak" ] || fail "measure: CPU reserved != allocated: $small"
  large=$(measure_json --set memory.batch_size=256) || fail "measure --json failed: $(cat "$dir/measure.err")"
  diff_large=$(json_int "$large" diffusion_peak_allocated_bytes)
  [ -n "$diff_large" ] && [ "$diff_large" -gt "$diff_small" ] ||
    fail "measure: batch 256 does not need more than batch 4 in stage 2 ($diff_large vs $diff_small)"
fi
[ "$(ls -d "$dir"/demo/demo.runs/run-* | wc -l)" = "$runs_before" ] || fail "measure left a run beside the project"
[ "$(sha256sum "$demo")" = "$project_before" ] || fail "measure --no-save changed the project file"
# Without --no-save the measurement is kept as the project's calibration for the device (the
# --set overrides stay out of the file), and estimate then reports the calibrated figure.
expect 0 "allocated MiB" -- "$cli" measure --project "$demo" --device cpu --steps 2 "${tiny[@]}"
grep -q '"calibrations"' "$demo" && grep -q '"measured_reserved_bytes"' "$demo" ||
  fail "measure did not store a calibration: $(grep -A3 calibrations "$demo")"
grep -q '"image_size": 16' "$demo" && fail "measure wrote the --set overrides into the project"
expect 0 '"calibrated_total_bytes"' -- "$cli" estimate --project "$demo" --device cpu --json "${tiny[@]}"
expect 0 "calibrated:" -- "$cli" estimate --project "$demo" --device cpu "${tiny[@]}"

# estimate: the breakdown, savings and recommendations; bad input names the flag or field
est=$("$cli" estimate --project "$demo" --device cpu --json "${tiny[@]}") || fail "estimate --json failed"
for key in total_bytes allocated_bytes reserved_bytes context_bytes breakdown savings fits capacity_bytes \
           peak_phase attention_backend; do
  case "$est" in *"\"$key\":"*) ;; *) fail "estimate JSON lacks $key";; esac
done
[ "$(json_int "$est" context_bytes)" = 0 ] || fail "estimate on the CPU has a context term"
bigger=$("$cli" estimate --project "$demo" --device cpu --json "${tiny[@]}" --set memory.batch_size=64)
[ "$(json_int "$bigger" total_bytes)" -gt "$(json_int "$est" total_bytes)" ] ||
  fail "estimate: batch 64 is not larger than the project's batch"
expect 0 '"fits": false' -- "$cli" estimate --project "$demo" --device cpu --capacity 1000000 --json "${tiny[@]}"
expect 0 '"max_batch_size"' -- "$cli" estimate --project "$demo" --gpu 8gb --recommend --json "${tiny[@]}"
expect 0 "24 GB" -- "$cli" estimate --project "$demo" --gpu 24gb "${tiny[@]}"
expect 0 "141 GB (H200)" -- "$cli" estimate --project "$demo" --gpu 141gb "${tiny[@]}"
expect 2 "--gpu: unknown preset '7gb'" -- "$cli" estimate --project "$demo" --gpu 7gb
expect 2 "--capacity and --gpu" -- "$cli" estimate --project "$demo" --gpu 8gb --capacity 100
expect 2 "--recommend" -- "$cli" estimate --project "$demo" --device cpu --recommend
expect 2 "memory.batch_size" -- "$cli" estimate --project "$demo" --set memory.batch_size=0
expect 2 "memory.attention_backend" -- "$cli" estimate --project "$demo" --set memory.attention_backend=fast
expect 2 "memory.batch_size" -- "$cli" estimate --project "$demo" --set memory.batch_size=1000000000 \
  --set model.image_size=4096

# settings: the contract names are listed with their defaults
expect 0 "memory.attention_backend" -- "$cli" settings
expect 0 '"path": "model.image_size"' -- "$cli" settings --json

# devices
expect 0 '"torch_version"' -- "$cli" devices --json

# backends: every backend with availability and the reason when unavailable
expect 0 "flash" -- "$cli" backends --device cpu
expect 0 '"backend": "local_window"' -- "$cli" backends --device cpu --json
expect 0 '"auto":' -- "$cli" backends --json --head-dim 40
expect 2 "--device: must be cpu, cuda or auto" -- "$cli" backends --device gpu
if "$cli" devices --json | grep -q '"cuda_available": false'; then
  expect 3 "--device cuda" -- "$cli" backends --device cuda
fi

# latentcast-bench attention: one row per backend, pass and shape, with the JSON keys of the contract
bench=$(dirname "$cli")/latentcast-bench
expect 0 '"max_abs_err"' -- "$bench" attention --device cpu --shapes "1,2,70,32" --min-seconds 0 --json
out=$("$bench" attention --device cpu --shapes "1,2,70,32;2,1,33,40" --min-seconds 0 --json 2>&1)
for key in backend device dtype pass B H N d ms ms_sync tflops peak_extra_bytes max_abs_err cos_sim rel_l1; do
  case "$out" in *"\"$key\":"*) ;; *) fail "bench attention JSON lacks $key";; esac
done
[ "$(printf '%s\n' "$out" | grep -c '"backend": "flash"')" = 4 ] || fail "bench attention: expected 4 flash rows: $out"
# both timings measured for every row that ran: as many ms_sync numbers as ms numbers, and some
n_ms=$(printf '%s\n' "$out" | grep -c '"ms": [0-9]')
n_sync=$(printf '%s\n' "$out" | grep -c '"ms_sync": [0-9]')
[ "$n_ms" -ge 4 ] && [ "$n_ms" = "$n_sync" ] || fail "bench attention: $n_ms ms against $n_sync ms_sync values"

expect 2 "--shapes" -- "$bench" attention --shapes "1,2,x,32"
expect 2 "--dtype" -- "$bench" attention --shapes "1,1,8,8" --dtype float8

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "cli: all checks passed"
