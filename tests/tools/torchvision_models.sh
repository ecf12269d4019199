#!/bin/sh
# Generates the torchvision regression models (scripts/make_torchvision_models.py) into OUT, once
# per version of the generator: they hold 1-90 MB of float weights each, too much to commit, and
# take about two minutes of CPU to train and export. Written beside OUT and renamed into place, so an
# interrupted run never leaves a half-written set behind.
set -eu
out=$1
scripts=$(cd "$(dirname "$0")/../../scripts" && pwd)
stamp=$(cat "$scripts/make_torchvision_models.py" "$scripts/make_qat_models.py" | sha256sum | cut -d' ' -f1)
[ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && exit 0
rm -rf "$out.tmp"
/usr/bin/python3 "$scripts/make_torchvision_models.py" "$out.tmp" -j 2
echo "$stamp" > "$out.tmp/stamp"
rm -rf "$out"
mv "$out.tmp" "$out"
