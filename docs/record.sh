#!/usr/bin/env bash
# Re-record the transcripts under docs/transcripts/ by running the real commands, then splice them,
# with the Results and times tables, into README.md, BENCHMARKS.md and docs/*.md
# (`python -m stages.report --update`; tests/test_report.py checks that every block equals its source).
#
#   docs/record.sh            # the everyday commands, in temporary clones of this repository's commit
#   docs/record.sh repro [-f] # `time dvc repro` in this working tree: the run the committed outputs come from
#                             # (-f: `dvc repro -f`, every stage again, when nothing is left to reproduce)
#   docs/record.sh dynamic    # python -m benchmarks.dynamic_eval: dynamic evaluation's knobs on val (needs data/charrnn.pt)
#   docs/record.sh seeds      # python -m benchmarks.char_seeds --seeds 0,1,2: three full trainings, one after the other
#   docs/record.sh splice     # only splice the transcripts and tables that are there
#
# The everyday commands run on the committed state (commit first): a bare clone stands in for the git
# remote, clone `a` makes a quick run from nothing, a sweep over seeds, a branch, pushes; clone `b` is
# a second machine. The default pipeline's outputs come from this repository's DVC cache, read as a
# remote (nothing is written to it). The quick run and the sweep's five small trainings take most of
# the time. Environment: RECORD_OUT (where the
# transcripts go, default docs/transcripts), RECORD_QUICK (the quick run's -S options besides its
# width, which is 128; the sweep's other width is 64), RECORD_KEEP=1 (keep the temporary clones).
set -euo pipefail

SRC=$(git rev-parse --show-toplevel)
OUT=${RECORD_OUT:-$SRC/docs/transcripts}
QUICK=${RECORD_QUICK:--S charrnn.steps=500 -S wavernn.steps=500 -S wavernn.core_amplitude=1}
MODE=${1:-everyday}
export TQDM_DISABLE=1                 # no progress bars in a transcript
export TIMEFORMAT=$'real\t%1lR'       # what `time` prints
mkdir -p "$OUT"

cpu_kind() {
    local name family model
    name=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
    family=$(lscpu | sed -n 's/^CPU family: *//p' | head -n 1)
    model=$(lscpu | sed -n 's/^Model: *//p' | head -n 1)
    echo "$name (family $family model $model), $(nproc) cores"
}
HEADER="# recorded by docs/record.sh on $(date -u +%F), commit $(git -C "$SRC" rev-parse --short HEAD), $(cpu_kind)"

WORK=""
clean() {  # a transcript's text: progress bars, DVC's lock-file and hint lines, blank lines and temporary paths left out
    sed -e 's/\r$//' -e 's/.*\r//' -e 's/[[:space:]]*$//' ${WORK:+-e "s#$WORK#/tmp/demo#g"} |
        grep -v -E '^(Updating|Generating) lock file|^> python -m |^To track the changes with git, run:|^[[:space:]]+git add |^To enable auto staging, run:|^[[:space:]]+dvc config core.autostage true|^Use `dvc push` to send your updates to remote storage\.|^$' || true
}

T=""
begin() { T="$OUT/$1.txt"; printf '%s\n' "$HEADER" > "$T.part"; }
end() { mv "$T.part" "$T"; echo "recorded $T" >&2; }

# rec DIR PROMPT 'COMMAND' [fails]: run COMMAND in DIR, append "PROMPT$ COMMAND" and its cleaned output
# to the transcript; stop if it fails, or, with `fails`, if it succeeds (its exit code is then noted).
rec() {
    local dir=$1 prompt=$2 line=$3 expected=${4:-succeeds} rc
    printf '%s$ %s\n' "$prompt" "$line" | clean >> "$T.part"
    set +e
    (cd "$dir" && bash -c "$line") 2>&1 | clean >> "$T.part"
    rc=${PIPESTATUS[0]}
    set -e
    if { [ "$expected" = succeeds ] && [ "$rc" != 0 ]; } || { [ "$expected" = fails ] && [ "$rc" = 0 ]; }; then
        echo "docs/record.sh: '$line' exited with $rc, expected it to $expected; transcript so far: $T.part" >&2
        exit 1
    fi
    if [ "$rc" != 0 ]; then printf '# exit code %s\n' "$rc" >> "$T.part"; fi
}

# quiet DIR 'COMMAND': a set-up step, not recorded; its output is shown only if it fails.
quiet() {
    local log
    log=$(cd "$1" && bash -c "$2" 2>&1) || { echo "docs/record.sh: set-up step '$2' failed:" >&2; echo "$log" >&2; exit 1; }
}

wait_for_queue() {  # poll `dvc queue status` in $1 until nothing is queued or running, stop the workers; fail on a failed run
    local status
    for _ in $(seq 1 720); do
        status=$(cd "$1" && dvc queue status)
        if ! grep -q -E 'Queued|Running' <<< "$status"; then break; fi
        sleep 5
    done
    (cd "$1" && dvc queue stop > /dev/null 2>&1) || true
    if grep -q -E 'Queued|Running|Failed' <<< "$status"; then
        echo "docs/record.sh: the queued sweep did not end well:" >&2
        echo "$status" >&2
        exit 1
    fi
}

splice() {
    local files=()
    for file in README.md BENCHMARKS.md docs/*.md; do
        if [ -f "$SRC/$file" ]; then files+=("$file"); fi
    done
    if [ "${#files[@]}" -gt 0 ]; then (cd "$SRC" && python -m stages.report --update "${files[@]}"); fi
}

everyday() {
    WORK=$(mktemp -d /tmp/rnnlab-record.XXXXXX)
    if [ -z "${RECORD_KEEP:-}" ]; then trap 'rm -rf "$WORK"' EXIT; fi
    local commit cache a b
    commit=$(git -C "$SRC" rev-parse HEAD)
    cache=$(cd "$SRC" && dvc cache dir)
    git clone -q --bare "$SRC" "$WORK/origin.git"
    git -C "$WORK/origin.git" update-ref refs/heads/main "$commit"
    git -C "$WORK/origin.git" symbolic-ref HEAD refs/heads/main
    a=$WORK/a
    b=$WORK/b
    git clone -q "$WORK/origin.git" "$a"
    git -C "$a" config user.email record@example.invalid
    git -C "$a" config user.name record

    # A fresh clone, nothing pulled: a quick run of every stage (its log kept apart), and its figures.
    begin quick
    rec "$a" "" "time dvc exp run -n quick -S hidden_size=128 $QUICK > $WORK/quick.log 2>&1"
    rec "$a" "" "python -m stages.report"
    end
    { printf '%s\n$ dvc exp run -n quick -S hidden_size=128 %s\n' "$HEADER" "$QUICK"; clean < "$WORK/quick.log"; } > "$OUT/quick_log.txt"

    # A sweep over seeds, from the quick run's params (left in the workspace): two widths, three seeds.
    begin sweep
    rec "$a" "" "dvc exp run --queue -S 'charrnn.seed=1,2' | grep Queued"
    rec "$a" "" "dvc exp run --queue -S hidden_size=64 -S 'charrnn.seed=0,1,2' | grep Queued"
    rec "$a" "" "dvc queue start -j 2"
    wait_for_queue "$a"
    rec "$a" "" "dvc exp show --md --drop '.*' --keep 'Experiment|^hidden_size\$|charrnn.seed|charrnn.steps|metrics/charrnn.json:val_loss|metrics/dynamic.json:val_loss'"
    end

    begin compare
    rec "$a" "" "python -m stages.compare --baseline quick --metric metrics/charrnn.json:val_loss"
    end
    begin compare_dynamic
    rec "$a" "" "python -m stages.compare --baseline quick --metric metrics/dynamic.json:val_loss --md --png $WORK/compare.png"
    end
    cp "$WORK/compare.png" "$OUT/compare.png"

    # A typo, its error, the fix, and the outputs back from the run-cache (the quick run's, made here).
    begin run_cache
    rec "$a" "" "sha256sum data/charrnn.pt metrics/charrnn.json"
    rec "$a" "" "sed -i '0,/^  lr: 0.003\$/s//  lr: -0.003/' params.yaml   # a typo in charrnn.lr"
    rec "$a" "" "dvc repro" fails
    rec "$a" "" "sed -i '0,/^  lr: -0.003\$/s//  lr: 0.003/' params.yaml   # fixed"
    rec "$a" "" "time dvc repro"
    rec "$a" "" "sha256sum data/charrnn.pt metrics/charrnn.json"
    rec "$a" "" "dvc status"
    end

    # A variant on a branch: the run-cache restores the queued run; diffs against main.
    begin branches
    rec "$a" "" "git checkout -q -b narrow && dvc exp run -S hidden_size=64 -S charrnn.seed=0 2>&1 | grep cached && git add -A && git commit -q -m narrow"
    rec "$a" "" "dvc metrics diff main narrow --targets metrics/charrnn.json"
    rec "$a" "" "dvc params diff main narrow"
    end
    quiet "$a" "dvc plots diff main narrow -o $WORK/plots"   # it must work too; its output is a path

    # Back on main, with the default pipeline's outputs read from this repository's cache.
    quiet "$a" "git checkout -q main && dvc remote add --local src '$cache' && dvc pull -r src"

    begin one_experiment
    rec "$a" "" "dvc exp run -n wave-seed1 -S wavernn.seed=1 -S wavernn.steps=500 -S wavernn.core_amplitude=1"
    end
    quiet "$a" "git checkout -- . && dvc checkout"

    begin generate
    rec "$a" "" "python -m stages.generate --prime 'HAMLET:' --length 300 --temperature 0.5"
    end

    begin wave_error
    rec "$a" "" "python -m benchmarks.wave_error"
    end

    # Two machines: a DVC remote for the outputs, the bare clone for git.
    begin remote
    rec "$a" "a" "dvc remote add --local -d storage $WORK/storage && dvc push"
    rec "$WORK" "b" "git clone -q $WORK/origin.git b && cd b && dvc remote add --local -d storage $WORK/storage && dvc pull | tail -n 1"
    rec "$b" "b" "dvc status"
    end

    begin machines
    rec "$a" "a" "dvc exp push origin quick"
    rec "$b" "b" "dvc exp pull origin quick && dvc exp show --md --drop '.*' --keep 'Experiment|^hidden_size\$|charrnn.steps|metrics/dynamic.json:test_loss'"
    rec "$a" "a" "python -m stages.lib.run_cache push"
    rec "$b" "b" "dvc pull --run-cache && time dvc exp run --pull -n from-a -S hidden_size=64 -S charrnn.seed=1 $QUICK"
    end
}

case "$MODE" in
    everyday) everyday ;;
    repro)  # the run that the committed outputs come from: every stage must run (dvc repro -f skips the run-cache)
        force=${2:-}
        if [ "$force" != "-f" ] && [ -z "$(cd "$SRC" && dvc status -q > /dev/null 2>&1 || echo changed)" ]; then
            echo "docs/record.sh repro: every stage is up to date, so \`dvc repro\` would time nothing; run \`docs/record.sh repro -f\` (dvc repro -f: every stage again)" >&2
            exit 2
        fi
        begin repro
        rec "$SRC" "" "time dvc repro${force:+ -f}"
        end
        { head -n 2 "$OUT/repro.txt"
          printf '# ... %s of 10 stages ran (docs/pipeline.md has the whole transcript)\n' "$(grep -c "^Running stage" "$OUT/repro.txt" || true)"
          grep -E '^real' "$OUT/repro.txt"; } > "$OUT/repro_time.txt"
        ;;
    dynamic)
        begin dynamic_eval
        rec "$SRC" "" "python -m benchmarks.dynamic_eval"
        end
        ;;
    seeds)
        begin char_seeds
        rec "$SRC" "" "python -m benchmarks.char_seeds --seeds 0,1,2"
        end
        ;;
    splice) ;;
    *) echo "usage: docs/record.sh [everyday|repro|dynamic|seeds|splice]" >&2; exit 2 ;;
esac
splice
