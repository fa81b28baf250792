#!/usr/bin/env bash
# Runs one phase of make test and prints how long it took.
set -o errexit -o nounset -o pipefail

name=$1
shift
start=$(date +%s)
echo "=== phase ${name}: $*"
status=0
"$@" || status=$?
echo "=== phase ${name}: $([[ ${status} -eq 0 ]] && echo passed || echo FAILED) in $(( $(date +%s) - start ))s"
exit ${status}
