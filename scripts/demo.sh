#!/usr/bin/env bash
# The README's first command runs this: the main job of mvc, end to end, in a temporary
# folder that is removed afterwards. Each step prints the command it runs.
set -euo pipefail

if ! command -v mvc >/dev/null 2>&1; then
  mvc() { python3 -m mvc "$@"; }  # the console script is not on PATH yet (e.g. pyenv before a rehash)
fi

demo=$(mktemp -d "${TMPDIR:-/tmp}/mvc-demo.XXXXXX")
trap 'rm -rf "$demo"' EXIT
cd "$demo"

# print a step as it would be typed (arguments with spaces or $ in single quotes), then run it
step() {
  local shown="" arg
  for arg in "$@"; do
    if [[ $arg =~ [[:space:]\"\$] ]]; then shown+=" '${arg//\'/\'\\\'\'}'"; else shown+=" $arg"; fi
  done
  printf '\n$%s\n' "$shown"
  "$@"
}

python3 - <<'PY'
# two "trained models": small binary files standing in for real weights
import os
open("model.bin", "wb").write(os.urandom(256 * 1024))
open("train.csv", "w").write("x,y\n1,2\n3,4\n")
open("train.py", "w").write("print('training')\n")
PY

step mvc init
step mvc add model.bin --name resnet --metric accuracy=0.91 --metric latency_ms=12 \
  --param lr=0.01 --data train.csv --code train.py -m "baseline"
cp model.bin first-model.bin
python3 -c "import os; open('model.bin', 'ab').write(os.urandom(1024))"  # retrain
step mvc add model.bin --name resnet --metric accuracy=0.94 --metric latency_ms=11 \
  --param lr=0.005 --data train.csv --code train.py --tag best -m "lower learning rate"
step mvc ls
step mvc ls resnet
step mvc show resnet@best
step mvc log resnet
step mvc diff resnet@0.1.0 resnet@best
step mvc lineage train.csv --downstream
step mvc checkout resnet@0.1.0 -o baseline.bin
cmp baseline.bin first-model.bin && echo "the checked-out bytes are those of the first version"
step mvc promote resnet@0.1.0 production -m "first release"
step mvc promote resnet@best production --check 'test -s "$MVC_MODEL_PATH"' -m "better accuracy"
step ls -l .mvc/deploy/resnet/production
step mvc resolve resnet
step mvc rollback resnet -m "back to the baseline"
step mvc log resnet --channel production
printf '\ndemo finished in %s (removed on exit)\n' "$demo"
