#!/usr/bin/env bash
# Java side of Skylark's store compatibility proof (see README.md).
#
#   run.sh write DIR COUNT [options]   RocketMQ 5.3.3 writes COUNT messages into a new store at DIR
#   run.sh read  DIR [options]         RocketMQ 5.3.3 loads/recovers DIR and reads everything back
#   run.sh build                       only (re)build
#
# JSON lines go to stdout, everything else (Maven, RocketMQ's log, summaries) to stderr.
# Needs JDK 17+ and Maven; Maven Central must be reachable for the first build only.
# The build is cached in target/ (scripts/java-harness.sh).
# Environment: COMPAT_LOG_LEVEL (RocketMQ log level on stderr, default WARN),
#              COMPAT_JAVA_OPTS (extra JVM flags), MAVEN_ARGS_EXTRA (extra mvn flags, e.g. -o).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/java-harness.sh
source "$here/../../scripts/java-harness.sh"
harness_build store-compat "$here"

if [[ $# -eq 0 ]]; then
    echo "usage: run.sh write DIR COUNT [options] | run.sh read DIR [options] | run.sh build" >&2
    exit 1
fi
if [[ "$1" == "build" ]]; then
    exit 0
fi

java="$(harness_java)"
# shellcheck disable=SC2086
exec "$java" -XX:+UseSerialGC -Xss1m \
    --add-opens=java.base/java.nio=ALL-UNNAMED \
    --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
    --add-opens=java.base/java.lang=ALL-UNNAMED \
    -Dcompat.log.level="${COMPAT_LOG_LEVEL:-WARN}" \
    ${COMPAT_JAVA_OPTS:-} \
    -cp "$harness_cp" io.skylark.compat.StoreCompat "$@"
