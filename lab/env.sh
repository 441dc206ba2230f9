# shellcheck shell=sh
# Source this file (". lab/env.sh") to use podman by hand, from a Makefile or
# from tests with the lab's settings. It works from any directory when sourced
# by bash; other shells must source it from the project root.
if [ -n "${BASH_SOURCE:-}" ]; then
    _lab_dir=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE}")" && pwd)
else
    _lab_dir=$(pwd)/lab
fi
CONTAINERS_CONF="$_lab_dir/containers.conf"
export CONTAINERS_CONF
unset _lab_dir
