#!/usr/bin/env bash
# Install everything the toolkit needs on a fresh Debian 12 machine: the Debian
# packages listed in debian-packages.txt (as root) and the pinned Python packages in
# a project-local virtual environment (.venv). Safe to run again: it only installs
# what is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mapfile -t packages < <(grep -vE '^\s*(#|$)' debian-packages.txt)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix asks what kind of mail server this is; the toolkit's role configures it,
  # so the package gets no configuration of its own.
  echo 'postfix postfix/main_mailer_type select No configuration' | $sudo debconf-set-selections
  # The packages' own services (named, slapd, postfix, dovecot) must not start on this
  # machine: the tests run their own on loopback ports. A policy-rc.d that denies
  # starts is put in place for the install only, unless one is already there.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    trap '$sudo rm -f "$policy"' EXIT
  fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python=${PYTHON:-python3}
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing Python packages from requirements.txt into .venv"
  "$python" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi

# One import name everywhere: modules get module_utils/city from AnsiballZ as
# ansible.module_utils.city; the controller (plugins, bin/, tests, benchmarks)
# gets the same package under the same name through this link in the venv.
site=$(.venv/bin/python -c 'import ansible.module_utils, os; print(os.path.dirname(ansible.module_utils.__file__))')
ln -sfn "$PWD/module_utils/city" "$site/city"
