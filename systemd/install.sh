#!/usr/bin/env bash
# Installs feedwatch as a systemd service: the binary, the unit and, when
# none exists yet, a starter /etc/feedwatch/feedwatch.toml. Run as root from
# the repository. PREFIX defaults to /usr/local (the unit expects
# /usr/local/bin/feedwatch).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}

cargo build --release --locked
install -D -m 0755 target/release/feedwatch "$prefix/bin/feedwatch"
install -D -m 0644 systemd/feedwatch.service /etc/systemd/system/feedwatch.service
if [ ! -e /etc/feedwatch/feedwatch.toml ]; then
    install -D -m 0640 config/feedwatch.toml /etc/feedwatch/feedwatch.toml
fi
"$prefix/bin/feedwatch" --config /etc/feedwatch/feedwatch.toml validate
systemctl daemon-reload
echo "installed; start with: systemctl enable --now feedwatch"
