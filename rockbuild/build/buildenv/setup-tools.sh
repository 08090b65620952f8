#!/bin/bash
# Turns the bare Ubuntu base into the build-tool image: craft-parts in a venv that sees Ubuntu's
# python3-apt, and fuse-overlayfs for overlay steps. Nothing a part might call (go, pip, git) is
# here: as in rockcraft's build instance, a part declares its tools in build-packages (or
# craft-parts adds them for its plugin or source type), so a rock that builds here builds there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# Package maintainer scripts must never start daemons on the host network.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
# dpkg without an fsync per file, as Docker's own Debian and Ubuntu images set it: a build
# container is disposable, and build-packages of many small files (texlive) unpack much faster.
echo force-unsafe-io > /etc/dpkg/dpkg.cfg.d/rockbuild-unsafe-io
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  ca-certificates python3-venv python3-apt fuse-overlayfs file patchelf xz-utils >/dev/null
python3 -m venv --system-site-packages /opt/rockbuild/venv
/opt/rockbuild/venv/bin/pip install --quiet --no-cache-dir --require-virtualenv -r "$(dirname "$0")/requirements.txt"
ln -sf /opt/rockbuild/venv/bin/craftctl /usr/local/bin/craftctl  # scriptlets call `craftctl default`
apt-get clean
