#!/usr/bin/env bash
# A real gf session on the example backtest (examples/backtest): load the starting
# parameters, evaluate them on three datasets, and look at what was recorded.
# Work happens in ./gf-quickstart (or $GF_QUICKSTART_DIR); rerunning starts afresh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
work=${GF_QUICKSTART_DIR:-gf-quickstart}
rm -rf "$work"
mkdir -p "$work"
cd "$work"
export GF_DB="$PWD/backtest.db"

echo "== gf load: the starting parameters become group 1"
gf load "$here/backtest/params.js"
gf show 1

echo
echo "== gf template-run: one command line per group x dataset, run by sh"
gf template-run "$python $here/backtest/backtest.py {}" SPY-2022-05 TSLA-2022-05 AMD-2022-05 > runme.sh
cat runme.sh
sh runme.sh

echo
echo "== gf runs: what was recorded"
gf runs

echo
echo "== the results, queried with plain SQL (the seed's results + run_meta)"
sqlite-utils "$GF_DB" "SELECT dataset, algo, name, value FROM results JOIN run_meta USING (run)
                       ORDER BY dataset, algo, name" --table
echo
echo "The database is $GF_DB: open it with sqlite3, sqlite-utils or Datasette."
