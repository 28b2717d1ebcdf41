#!/usr/bin/env bash
# Checks the unit as systemd would: `verify` clean, and an overall exposure
# from `security --offline=yes` of at most 1.5. Needs the binary built.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null; then
    apt-get update -qq && apt-get install -y -qq systemd >/dev/null
fi
cargo build --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The unit names the installed binary; point it at the one just built.
sed "s#/usr/local/bin/feedwatch#$PWD/target/debug/feedwatch#g" systemd/feedwatch.service \
    > "$work/feedwatch.service"
systemd-analyze verify "$work/feedwatch.service"
report=$(systemd-analyze security --offline=yes --no-pager "$work/feedwatch.service")
score=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for feedwatch.service: \([0-9.]*\).*/\1/p')
echo "overall exposure: ${score:-unknown}"
awk -v s="${score:-99}" 'BEGIN { exit !(s <= 1.5) }' || {
    printf '%s\n' "$report" | grep -v '✓' || true
    echo "the unit's exposure ${score:-unknown} is above 1.5" >&2
    exit 1
}
