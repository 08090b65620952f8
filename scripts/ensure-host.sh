#!/usr/bin/env bash
# Installs and starts what the build and the tests need on this host, and skips what is already
# there. Supported: Debian 12 (bookworm) and Ubuntu, as root. Anywhere else it lists what is missing.
set -euo pipefail

need_cmds=(docker dockerd skopeo umoci mmdebstrap redis-server docker-registry wrk nginx openssl prometheus promtool slapd ldapadd
  chromium chromedriver pdftotext pdffonts)
# The image tests start their own PostgreSQL and Redis on loopback; the packages only provide them.
pg_bin_glob='/usr/lib/postgresql/*/bin/initdb'
ubuntu_keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg

log() { printf '[ensure-host] %s\n' "$*" >&2; }

missing() {
  local out=()
  for c in "${need_cmds[@]}"; do command -v "$c" >/dev/null 2>&1 || out+=("$c"); done
  [ -f "$ubuntu_keyring" ] || out+=("ubuntu-keyring")
  compgen -G "$pg_bin_glob" >/dev/null || out+=("postgresql (initdb, with pg_trgm and unaccent)")
  printf '%s\n' "${out[@]:-}"
}

install_packages() {
  . /etc/os-release
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -f /var/lib/apt/periodic/rockbuild-updated ] || [ -n "$(find /var/lib/apt/lists -maxdepth 0 -mmin +1440)" ]; then
    apt-get update -qq
    mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/rockbuild-updated
  fi
  # Package scripts must not start the distribution's own PostgreSQL, Redis, registry, NGINX or
  # Prometheus services (the tests start their own, on loopback; NGINX is the TLS-terminating proxy
  # of the https tests; Prometheus scrapes the rocks and its promtool checks the alert rules).
  # Chromium and its driver are the browser tests' real browser, run headless.
  # mmdebstrap makes the rocks' Ubuntu base (distro-info-data tells it Ubuntu's releases and pockets).
  # slapd (OpenLDAP) is the directory of the LDAP sign-in test; ldap-utils loads its one account.
  # poppler-utils (pdftotext, pdffonts, pdfimages) reads the PDFs the LaTeX rock makes.
  local added_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && added_policy=1
  fi
  apt-get install -y -qq --no-install-recommends docker.io skopeo umoci python3-venv ca-certificates \
    postgresql redis-server docker-registry wrk nginx-light openssl prometheus chromium chromium-driver \
    slapd ldap-utils poppler-utils mmdebstrap distro-info-data >/dev/null
  [ -z "$added_policy" ] || rm -f /usr/sbin/policy-rc.d
  if [ "${ID}" = debian ] && [ "${VERSION_CODENAME}" = bookworm ]; then
    # bookworm's main has no ubuntu-keyring.
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      log "adding the bookworm-backports suite for ubuntu-keyring"
      # Reuse the Debian mirror this host already uses, so that no host name is written here.
      local mirror
      mirror=$(grep -rhoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
        | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
      [ -n "$mirror" ] || { log "no Debian mirror found in /etc/apt to add bookworm-backports from"; exit 1; }
      printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" > /etc/apt/sources.list.d/bookworm-backports.sources
      apt-get update -qq
    fi
    apt-get install -y -qq --no-install-recommends -t bookworm-backports ubuntu-keyring >/dev/null
  else
    apt-get install -y -qq --no-install-recommends ubuntu-keyring >/dev/null
  fi
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then return; fi
  log "starting dockerd (no bridge, no iptables: every container uses --network host)"
  mkdir -p /var/log
  nohup dockerd --bridge=none --iptables=false --ip6tables=false >/var/log/rockbuild-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  log "dockerd did not answer within 60 s; see /var/log/rockbuild-dockerd.log"
  exit 1
}

if [ -n "$(missing)" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    install_packages
  fi
  if [ -n "$(missing)" ]; then
    log "cannot install these automatically (need root on Debian or Ubuntu); please install:"
    missing | sed 's/^/  - /' >&2
    exit 1
  fi
fi
start_dockerd
