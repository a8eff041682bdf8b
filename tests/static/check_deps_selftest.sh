#!/usr/bin/env bash
# The dependency check must fail on a tree that breaks the direction, and pass on a clean one.
set -u
script=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{model,estimator,ui}
echo '#include <vector>' > "$tmp/model/a.cpp"
echo '#include <QWidget>' > "$tmp/ui/w.cpp"
bash "$script" "$tmp" >/dev/null || { echo "FAIL: clean tree rejected"; exit 1; }
for bad in 'model/b.cpp:#include <QString>' 'estimator/c.h:#include <torch/torch.h>' \
           'ui/d.cpp:#include <ATen/ATen.h>' 'estimator/e.cpp:#include "model/device.h"'; do
  file=${bad%%:*}; line=${bad#*:}
  echo "$line" > "$tmp/$file"
  if bash "$script" "$tmp" >/dev/null; then echo "FAIL: not caught: $file: $line"; exit 1; fi
  rm "$tmp/$file"
done
echo "dependency check self-test passed"
