#!/usr/bin/env bash
# The rtmpbench GitHub Action's steps (action.yml): install rtmpbench from the action's own
# checkout, run `rtmpbench compare` with the inputs (RTMPBENCH_* variables), write its Markdown
# report to the job summary, annotate failed gates, and set the step's outputs. It exits 0 once
# the comparison has run, whatever its verdict: the exit code goes to the `exit-code` output, so
# the results are uploaded before a later step fails the job. Runs outside GitHub too, given
# GITHUB_ACTION_PATH, GITHUB_STEP_SUMMARY and GITHUB_OUTPUT.
set -euo pipefail

action_path="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set}"
summary="${GITHUB_STEP_SUMMARY:?GITHUB_STEP_SUMMARY is not set}"
outputs="${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
cd "${GITHUB_WORKSPACE:-$PWD}"

# rtmpbench from the action's own checkout: its dependencies and build (npm ci runs the build).
cli="$action_path/dist/src/cli/main.js"
if [ ! -d "$action_path/node_modules" ] || [ ! -f "$cli" ]; then
  echo "::group::install rtmpbench from $action_path"
  (cd "$action_path" && npm ci --no-audit --no-fund)
  echo "::endgroup::"
fi
echo "rtmpbench $(node "$cli" --version) from $action_path"

results="${RTMPBENCH_RESULTS:-rtmpbench-results}"
mkdir -p "$results"
junit="$results/junit.xml"
args=(compare "${RTMPBENCH_SCENARIO:-ci-smoke}" --out "$results" --junit "$junit" --no-progress --repeat "${RTMPBENCH_REPEAT:-3}")
while IFS= read -r line; do
  [ -n "${line//[[:space:]]/}" ] && args+=(--add-server "$line")
done <<< "${RTMPBENCH_SERVERS:-}"
while IFS= read -r line; do
  [ -n "${line//[[:space:]]/}" ] && args+=(--gate "$line")
done <<< "${RTMPBENCH_GATES:-}"
[ -n "${RTMPBENCH_BASELINE:-}" ] && args+=(--baseline "$RTMPBENCH_BASELINE")
[ -n "${RTMPBENCH_AGAINST:-}" ] && args+=(--against "$RTMPBENCH_AGAINST")
if [ -n "${RTMPBENCH_ARGS:-}" ]; then
  read -r -a extra <<< "$RTMPBENCH_ARGS"
  args+=("${extra[@]}")
fi

echo "rtmpbench ${args[*]}"
set +e
node "$cli" "${args[@]}" > "$results/compare.txt" 2> "$results/compare.err"
code=$?
set -e
cat "$results/compare.txt"
cat "$results/compare.err" >&2

dir="$(sed -n 's/^results: //p' "$results/compare.txt" | tail -n 1)"
if [ -n "$dir" ] && [ -f "$dir/report.md" ]; then
  cat "$dir/report.md" >> "$summary"
else
  {
    echo "## rtmpbench compare did not complete (exit $code)"
    echo
    echo '```'
    tail -n 40 "$results/compare.err"
    echo '```'
  } >> "$summary"
fi
# Failed gates as annotations on the run.
sed -n 's/^rtmpbench compare: gate FAILED: /::error title=rtmpbench gate::/p' "$results/compare.err"

{
  echo "exit-code=$code"
  echo "results-dir=$dir"
  echo "results-root=$results"
  echo "junit=$junit"
} >> "$outputs"
exit 0
