#!/usr/bin/env bash
# Mutation testing of the modules that judge (cargo-mutants): the analysis, the
# checks, framer, rzcobs, markers, decode, the readers of what the firmware
# speaks (hil-runner, .cargo/mutants.toml), and hil-transport's policies and
# counters under each policy (target-tests/.cargo/mutants.toml).
#
# Each mutant runs only the fast tests that judge (unit tests, hand-made frame
# streams, the property tests with HIL_PROPTEST_CASES cases), built with the
# unoptimised `mutants` profile. Missed mutants make it fail (cargo-mutants
# exits 2); equivalent mutants are listed, with the reason, in the configs.
# Timeouts (a mutant that makes the tests loop forever) do not fail it.
#
#   host-tests/mutants.sh                  # everything (-j 1)
#   host-tests/mutants.sh host             # hil-runner only
#   host-tests/mutants.sh transport        # hil-transport only, all three policies
#   MUTANTS_JOBS=2 host-tests/mutants.sh   # more parallel builds
#   MUTANTS_ARGS="--iterate" host-tests/mutants.sh   # skip mutants caught last time
#   MUTANTS_ARGS="--in-place" host-tests/mutants.sh  # mutate this tree (reuses target/; do not edit meanwhile)
#
# Results: mutants.out/ (host) and target-tests/mutants.out.POLICY/ (transport).
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
jobs=${MUTANTS_JOBS:-1}
export HIL_PROPTEST_CASES=${HIL_PROPTEST_CASES:-256}
# shellcheck disable=SC2206
extra=(${MUTANTS_ARGS:-})
# --in-place (mutate this tree, reuse its target/) builds one mutant at a time.
jobs_arg=(--jobs "$jobs")
if [[ " ${extra[*]} " == *" --in-place "* ]]; then jobs_arg=(); fi

if ! cargo mutants --version >/dev/null 2>&1; then
  echo "mutants: install cargo-mutants first: cargo install --locked cargo-mutants" >&2
  exit 2
fi

status=0
if [ "$what" = all ] || [ "$what" = host ]; then
  # cargo-mutants 27 runs its baseline with `-p` of the mutated package only,
  # where host-tests' targets do not exist: the unmutated run is done here,
  # with the same test set (.cargo/mutants.toml), and the timeouts are given.
  echo "mutants: baseline, the test set unmutated"
  mapfile -t targets < <(sed -n 's/^ *"\(--lib\)",$/\1/p; s/^ *"--test", "\([a-z_]*\)",$/--test\n\1/p' .cargo/mutants.toml)
  time cargo test --profile mutants --workspace "${targets[@]}" -q
  echo "mutants: hil-runner (judging modules)"
  time cargo mutants "${jobs_arg[@]}" --output . --baseline skip --timeout 60 --build-timeout 600 \
    "${extra[@]}" || status=$?
  # The verdict comes from missed.txt: cargo-mutants exits 3 on a timeout even
  # when it also missed mutants (3 over 2), and a mutant the tests never let
  # finish is not one they let pass.
  if [ "$status" = 0 ] || [ "$status" = 2 ] || [ "$status" = 3 ]; then
    missed=$(wc -l <mutants.out/missed.txt)
    echo "mutants: hil-runner: $missed missed, $(wc -l <mutants.out/timeout.txt) timed out"
    status=0
    if [ "$missed" -gt 0 ]; then cat mutants.out/missed.txt; status=2; fi
  fi
fi
if [ "$what" = all ] || [ "$what" = transport ]; then
  # Each policy's build tests its own code: a mutant in another policy's code is
  # "missed" there. A mutant is missed only if no policy's tests catch it.
  # The truncate run also has frame-check: the check value's length is part of
  # the drop report's (report.rs, REPORT_MAX), and 0 without it.
  policies=(policy-drop policy-truncate policy-block)
  for policy in "${policies[@]}"; do
    features="hil-transport/$policy"
    if [ "$policy" = policy-truncate ]; then features="$features,hil-transport/frame-check"; fi
    echo "mutants: hil-transport with $features"
    (cd target-tests && time cargo mutants "${jobs_arg[@]}" --output "mutants.out.$policy" \
      --features "$features" "${extra[@]}") || true
  done
  missed=target-tests/mutants.out.missed.txt
  first=target-tests/mutants.out.${policies[0]}/mutants.out/missed.txt
  cp "$first" "$missed"
  for policy in "${policies[@]:1}"; do
    grep -Fxf "target-tests/mutants.out.$policy/mutants.out/missed.txt" "$missed" >"$missed.new" || true
    mv "$missed.new" "$missed"
  done
  echo "mutants: hil-transport, missed under every policy: $(wc -l <"$missed") ($missed)"
  if [ -s "$missed" ]; then
    cat "$missed"
    status=2
  fi
fi
exit "$status"
