#!/usr/bin/env bash
# Java side of Skylark's name-server compatibility check (see README.md).
#
#   run.sh check HOST:PORT   RocketMQ 5.3.3's remoting classes and producer exercise the
#                            Skylark name server at HOST:PORT; exit 0 when all agree
#   run.sh build             only (re)build
#
# Progress lines go to stdout, everything else (Maven, RocketMQ's log) to stderr.
# Exit codes: 0 ok, 1 usage/build/unexpected error, 3 a check failed.
# Needs JDK 17+ and Maven; Maven Central must be reachable for the first build only.
# The build is cached in target/ (scripts/java-harness.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/java-harness.sh
source "$here/../../scripts/java-harness.sh"
harness_build nameserver-compat "$here"

if [[ $# -eq 0 ]]; then
    echo "usage: run.sh check HOST:PORT | run.sh build" >&2
    exit 1
fi
if [[ "$1" == "build" ]]; then
    exit 0
fi

java="$(harness_java)"
# shellcheck disable=SC2086
exec "$java" -XX:+UseSerialGC ${COMPAT_JAVA_OPTS:-} \
    -Drocketmq.client.logUseSlf4j=false \
    -cp "$harness_cp" io.skylark.compat.NamesrvCompat "$@"
