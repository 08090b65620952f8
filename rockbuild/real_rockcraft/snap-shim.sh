#!/bin/sh
# Stands in for snapd, which containers do not run. rockcraft's hidden Pebble part stages the
# Pebble snap through craft-parts, which runs exactly `snap download pebble --channel <channel>`
# in the directory it unpacks from; this answers that with the seeded snap and refuses the rest.
if [ "$1" = download ] && [ "$2" = pebble ]; then
  cp /opt/rockbuild/pebble_1.snap ./pebble_1.snap && : > ./pebble_1.assert && exit 0
fi
echo "snap (rockbuild stand-in): only 'snap download pebble' is available in this container, not 'snap $*'" >&2
exit 1
