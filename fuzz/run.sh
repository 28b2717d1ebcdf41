#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 120 s each; first
# argument overrides), seeded from the test fixtures. Not part of CI.
#   fuzz/run.sh [SECONDS] [TARGET...]
# A crash leaves its input under fuzz/artifacts/TARGET/; turn each into a
# regression test in tests/it (hostile.rs or quirks.rs, by what the input
# is) named after what it found.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-120}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(feed decode text page)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz builds with sanitizer flags that need a nightly compiler; a
# stable one accepts them when told it is bootstrapping.
if ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi
for target in "${targets[@]}"; do
    corpus="corpus/$target"
    mkdir -p "$corpus"
    for f in ../tests/fixtures/*.xml ../tests/fixtures/*.json ../tests/fixtures/*.html; do
        [ -e "$f" ] || continue
        # The feed and decode targets read a first byte that picks a charset.
        { printf '\000'; cat "$f"; } > "$corpus/seed-$(basename "$f")"
    done
    echo "== $target for ${seconds}s"
    cargo fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -max_len=262144 -rss_limit_mb=2048
done
