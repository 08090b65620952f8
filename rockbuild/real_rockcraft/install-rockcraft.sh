#!/bin/bash
# Turns the build base into an image with real rockcraft, as rockcraft's snap would run it on this
# base: its source installed with its own lock's pins into a venv that sees Ubuntu's python3-apt,
# the tools it calls found on PATH, and the `snap` stand-in for its Pebble part.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
setup=/rockbuild-setup
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  ca-certificates python3-venv python3-apt python3-pip git skopeo umoci fuse-overlayfs squashfs-tools >/dev/null
if [ -f /rockbuild-setup/ca.crt ]; then printf '[global]\ncert = /rockbuild-setup/ca.crt\n' > /etc/pip.conf; fi

python3 -m venv --system-site-packages /opt/rockcraft
if [ -f "$setup/rockcraft-source.tar.gz" ]; then
  mkdir -p /opt/rockcraft-source
  tar -xzf "$setup/rockcraft-source.tar.gz" -C /opt/rockcraft-source --strip-components=1
  # setuptools-scm lists the package's files from git; without a repository every subpackage is dropped.
  git -C /opt/rockcraft-source init -q
  git -C /opt/rockcraft-source add -A
  git -C /opt/rockcraft-source -c user.name=rockbuild -c user.email=rockbuild@localhost commit -qm "unmodified source"
  SETUPTOOLS_SCM_PRETEND_VERSION="$(cat "$setup/version")" PIP_CONSTRAINT="$setup/constraints.txt" \
    /opt/rockcraft/bin/pip install --quiet --no-cache-dir /opt/rockcraft-source
else
  /opt/rockcraft/bin/pip install --quiet --no-cache-dir "$(cat "$setup/requirement")"
fi
rm -f /etc/pip.conf
ln -sf /opt/rockcraft/bin/rockcraft /usr/local/bin/rockcraft
ln -sf /opt/rockcraft/bin/craftctl /usr/local/bin/craftctl
/opt/rockcraft/bin/rockcraft --version

# The Pebble snap, as `snap download pebble` would give it: the binary and the snap's metadata.
mkdir -p /tmp/pebble-snap/bin /tmp/pebble-snap/meta /opt/rockbuild
install -m 0755 "$setup/pebble" /tmp/pebble-snap/bin/pebble
printf 'name: pebble\nversion: %s\nsummary: Pebble service manager\ndescription: Pebble, built from source by rockbuild.\n' \
  "$(cat "$setup/pebble-version")" > /tmp/pebble-snap/meta/snap.yaml
mksquashfs /tmp/pebble-snap /opt/rockbuild/pebble_1.snap -noappend -all-root -quiet
rm -rf /tmp/pebble-snap
install -m 0755 "$setup/snap-shim.sh" /usr/local/bin/snap
apt-get clean
# The package lists stay: craft-parts looks build-packages up in them before it refreshes anything.
