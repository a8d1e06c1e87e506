#!/usr/bin/env bash
# Seeds the fuzz corpora (corpus/TARGET/) from the repository; files already there are kept.
#   board_file: every boards/*.toml renamed `fuzz`, with its memory.x after a NUL byte, and
#               once with the memory layout the fuzz target puts next to it (lm3s6965evb.memory.x).
#   elf_load:   the firmware ELFs built so far (target-tests/target/hil-suites/*/*, or the
#               ELFs given as arguments), debug info stripped (DWARF makes them 3x larger).
#   rzcobs_recovery: starts empty (its input is a recipe, not a stream).
# Usage: host-tests/fuzz/seed.sh [ELF...]
set -euo pipefail
cd "$(dirname "$0")"
root=../..
mkdir -p corpus/board_file corpus/elf_load corpus/rzcobs_recovery

for toml in "$root"/boards/*.toml; do
  name=$(basename "$toml" .toml)
  memory=$(sed -n 's/^memory = "\(.*\)"$/\1/p' "$toml")
  renamed=$(sed 's/^name = .*/name = "fuzz"/' "$toml")
  { printf '%s\n' "$renamed"; printf '\0'; cat "$root/boards/$memory"; } > "corpus/board_file/seed-$name"
  printf '%s\n' "$renamed" | sed 's/^memory = .*/memory = "lm3s6965evb.memory.x"/' > "corpus/board_file/seed-$name-project"
done

strip=$(find "$(rustc --print sysroot)" -name llvm-strip -type f | head -1)
if [ "$#" -eq 0 ]; then
  set -- "$root"/target-tests/target/hil-suites/*/*
fi
for elf in "$@"; do
  [ -f "$elf" ] || continue
  out="corpus/elf_load/seed-$(basename "$(dirname "$elf")")-$(basename "$elf")"
  if [ -n "$strip" ]; then
    "$strip" --strip-debug -o "$out" "$elf"
  else
    cp "$elf" "$out"
  fi
done
echo "seed: $(ls corpus/board_file | wc -l) board files, $(ls corpus/elf_load | wc -l) ELFs"
