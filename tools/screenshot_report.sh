#!/usr/bin/env bash
# screenshot_report.sh REPORT.html OUT.png [WIDTHxHEIGHT]
# Render a simnet report page in headless Chromium and write a PNG screenshot of the
# top WIDTHxHEIGHT pixels (default 1280x2400). Needs Chromium (Debian: apt-get install
# chromium). Runs offline: no network, no first-run, no component updates, a throw-away
# profile that is removed afterwards.
set -eu
HTML=${1:?usage: screenshot_report.sh REPORT.html OUT.png [WIDTHxHEIGHT]}
OUT=${2:?usage: screenshot_report.sh REPORT.html OUT.png [WIDTHxHEIGHT]}
SIZE=${3:-1280x2400}
[ -f "$HTML" ] || { echo "screenshot_report.sh: $HTML: no such file" >&2; exit 1; }
case $SIZE in
  [0-9]*x[0-9]*) ;;
  *) echo "screenshot_report.sh: size '$SIZE' is not WIDTHxHEIGHT" >&2; exit 2 ;;
esac
BROWSER=
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then BROWSER=$b; break; fi
done
[ -n "$BROWSER" ] || { echo "screenshot_report.sh: no chromium found (apt-get install chromium)" >&2; exit 1; }
ABS=$(cd "$(dirname "$HTML")" && pwd)/$(basename "$HTML")
case $OUT in /*) OUTABS=$OUT ;; *) OUTABS=$PWD/$OUT ;; esac
PROFILE=$(mktemp -d)
trap 'rm -rf "$PROFILE"' EXIT
rm -f "$OUTABS"
timeout 120 "$BROWSER" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$PROFILE" --screenshot="$OUTABS" --window-size="${SIZE/x/,}" \
  "file://$ABS" >"$PROFILE/log" 2>&1 || true
if [ ! -s "$OUTABS" ]; then
  echo "screenshot_report.sh: $BROWSER wrote no screenshot; its log:" >&2
  tail -20 "$PROFILE/log" >&2
  exit 1
fi
echo "wrote $OUT ($SIZE)"
