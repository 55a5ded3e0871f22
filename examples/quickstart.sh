#!/usr/bin/env bash
# A real gf breeding session on the example backtest (examples/backtest): load the
# starting parameters, evaluate them on three datasets, breed and evaluate three
# generations, then look at the best groups and where they came from.
# Work happens in ./gf-quickstart (or $GF_QUICKSTART_DIR); rerunning starts afresh there (a folder
# this script did not make is left alone). gf and sqlite-utils run as `$PYTHON -m ...`, so the
# console scripts need not be on PATH (`pip install --user` without ~/.local/bin on it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
work=${GF_QUICKSTART_DIR:-gf-quickstart}
mark=.made-by-gf-quickstart
# (a folder an earlier version of this script made holds only its database)
if [ -e "$work" ] && { [ ! -d "$work" ] || { [ ! -e "$work/$mark" ] &&
        [ -n "$(ls -A "$work" | grep -vxE 'backtest\.db(-wal|-shm)?')" ]; }; }; then
    echo "quickstart.sh: $work exists and was not made by this script; move it away, or set GF_QUICKSTART_DIR to another folder" >&2
    exit 1
fi
rm -rf "$work"
mkdir -p "$work"
touch "$work/$mark"
cd "$work"
gf() { "$python" -m gf "$@"; }
export GF_DB="$PWD/backtest.db"
backtest="$python $here/backtest/backtest.py {}"

echo "== gf load: the starting parameters become group 1"
gf load "$here/backtest/params.js"
gf show 1

echo
echo "== gf run: evaluate group 1 on three datasets (the program records its results)"
gf run "$backtest" SPY-2022-05 TSLA-2022-05 AMD-2022-05 -j 2

echo
echo "== gf breed: 3 generations of 8 children bred from the top 2 of every dataset"
gf breed --metric "max profit min trades" --top 2 --population 8 --loop 3 --seed 1 -j 2 "$backtest"

echo
echo "== gf top: the best groups by profit, per dataset"
gf top --metric profit -n 3

best=$(gf top --metric profit -n 1 --dataset SPY-2022-05 --json | "$python" -c 'import json, sys; print(json.load(sys.stdin)[0]["group"])')
echo
echo "== gf lineage $best: where the best SPY group came from"
gf lineage "$best" --depth 3

echo
echo "== plain SQL works too (the original tool's results + run_meta)"
"$python" -m sqlite_utils "$GF_DB" "SELECT dataset, algo, round(max(value), 2) AS best_profit
                       FROM results JOIN run_meta USING (run) WHERE name = 'profit'
                       GROUP BY dataset, algo ORDER BY dataset, algo" --table
echo
echo "The database is $GF_DB: open it with sqlite3, sqlite-utils or Datasette."
