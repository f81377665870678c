#!/bin/sh
# Measure a change against its base in one CI job, compare, and post the table on the pull/merge request.
#
# Used by the GitHub Action (integrations/github/action.yml) and the GitLab template
# (integrations/gitlab/perfsheriff.gitlab-ci.yml); any CI can call it. Run it at the root of a checkout
# with full history. Settings come from the environment:
#
#   PERFSHERIFF_BENCHMARK  the command that runs the benchmarks and writes PERFSHERIFF_RESULTS (required)
#   PERFSHERIFF_RESULTS    the result file or folder it writes (required)
#   PERFSHERIFF_BASE       the branch or revision the change goes into (required); the merge base is measured
#   PERFSHERIFF_HEAD       the change (default: HEAD)
#   PERFSHERIFF_REPEATS    how many times each side is measured, interleaved base, head, head, base, ... (default: 2)
#   PERFSHERIFF_FAIL_ON    merge gate rules, e.g. 'regression>5%' (default: none)
#   PERFSHERIFF_FORMAT     the results' format (default: detected)
#   PERFSHERIFF_COMMENT    github:NUMBER or gitlab:IID to comment on, edited in place (default: no comment)
#   PERFSHERIFF_LINK       a URL shown under the table (default: none)
#   PERFSHERIFF_OUT        where the Markdown table is written (default: perfsheriff-compare.md)
#   PERFSHERIFF_DATABASE_URL  where results are kept (default: an SQLite file in a temporary folder)
#
# Exit status: 0, or 3 when a PERFSHERIFF_FAIL_ON rule fires, or the failing step's status.
set -eu

: "${PERFSHERIFF_BENCHMARK:?set PERFSHERIFF_BENCHMARK to the command that runs the benchmarks}"
: "${PERFSHERIFF_RESULTS:?set PERFSHERIFF_RESULTS to the result file the benchmark command writes}"
: "${PERFSHERIFF_BASE:?set PERFSHERIFF_BASE to the branch or revision the change goes into}"
case "${PERFSHERIFF_COMMENT:-}" in
    "" | github:* | gitlab:*) ;;
    *) echo "error: PERFSHERIFF_COMMENT: expected github:NUMBER or gitlab:IID" >&2; exit 1 ;;
esac
head_rev=$(git rev-parse --verify "${PERFSHERIFF_HEAD:-HEAD}^{commit}")
base_rev=$(git merge-base "$PERFSHERIFF_BASE" "$head_rev")
repeats=${PERFSHERIFF_REPEATS:-2}
out=${PERFSHERIFF_OUT:-perfsheriff-compare.md}
scratch=$(mktemp -d)
if [ -z "${PERFSHERIFF_DATABASE_URL:-}" ]; then
    PERFSHERIFF_DATABASE_URL="sqlite:///$scratch/perfsheriff.db"
fi
export PERFSHERIFF_DATABASE_URL
start=$(git symbolic-ref --quiet --short HEAD || git rev-parse HEAD)
restore() { rm -rf "$PERFSHERIFF_RESULTS" "$scratch"; git checkout --quiet --force "$start"; }
trap restore EXIT
# Both revisions are ordered along the change's history; a local branch names it for perfsheriff.
git branch --force perfsheriff-change "$head_rev" >/dev/null

measure() {
    git checkout --quiet --force --detach "$1"
    rm -rf "$PERFSHERIFF_RESULTS"
    sh -c "$PERFSHERIFF_BENCHMARK"
    # Each measurement is one run; keep a copy named by revision and round, so none replaces another.
    copy="$scratch/$1-$2-$(basename "$PERFSHERIFF_RESULTS")"
    cp -R "$PERFSHERIFF_RESULTS" "$copy"
    set -- "$copy" --repo . --revision "$1" --branch perfsheriff-change --machine "${PERFSHERIFF_MACHINE:-ci}"
    if [ -n "${PERFSHERIFF_FORMAT:-}" ]; then set -- "$@" --format "$PERFSHERIFF_FORMAT"; fi
    perfsheriff ingest "$@" >/dev/null
}

# Interleaved (base head head base ...): a machine that slows down during the job slows both sides alike.
round=1
while [ "$round" -le "$repeats" ]; do
    if [ $((round % 2)) -eq 1 ]; then order="$base_rev $head_rev"; else order="$head_rev $base_rev"; fi
    for rev in $order; do measure "$rev" "$round"; done
    round=$((round + 1))
done

# --db: this job's measurements, even where PERFSHERIFF_SERVER is set for `perfsheriff upload`.
set -- --base "$base_rev" --head "$head_rev" --db "$PERFSHERIFF_DATABASE_URL" --markdown
if [ -n "${PERFSHERIFF_FAIL_ON:-}" ]; then set -- "$@" --fail-on "$PERFSHERIFF_FAIL_ON"; fi
status=0
perfsheriff compare "$@" >"$out" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
    exit "$status"
fi
cat "$out"

if [ -n "${PERFSHERIFF_COMMENT:-}" ]; then
    case "$PERFSHERIFF_COMMENT" in
        github:*) set -- "$out" --github-pr "${PERFSHERIFF_COMMENT#github:}" ;;
        gitlab:*) set -- "$out" --gitlab-mr "${PERFSHERIFF_COMMENT#gitlab:}" ;;
    esac
    if [ -n "${PERFSHERIFF_LINK:-}" ]; then set -- "$@" --link "$PERFSHERIFF_LINK"; fi
    perfsheriff comment "$@"
fi
exit "$status"
