#!/usr/bin/env bash
# Java side of Skylark's store compatibility proof (see README.md).
#
#   run.sh write DIR COUNT [options]   RocketMQ 5.3.3 writes COUNT messages into a new store at DIR
#   run.sh read  DIR [options]         RocketMQ 5.3.3 loads/recovers DIR and reads everything back
#   run.sh build                       only (re)build
#
# JSON lines go to stdout, everything else (Maven, RocketMQ's log, summaries) to stderr.
# Needs JDK 17+ and Maven; Maven Central must be reachable for the first build only.
# The build is cached in target/ and redone when pom.xml or src/ changes.
# Environment: COMPAT_LOG_LEVEL (RocketMQ log level on stderr, default WARN),
#              COMPAT_JAVA_OPTS (extra JVM flags), MAVEN_ARGS_EXTRA (extra mvn flags, e.g. -o).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="$here/target"
stamp="$target/.build-stamp"
mkdir -p "$target"

needs_build() {
    [[ ! -f "$stamp" || ! -d "$target/classes" || ! -d "$target/lib" ]] && return 0
    [[ -n "$(find "$here/pom.xml" "$here/src" -newer "$stamp" -print -quit)" ]]
}

# Serialise concurrent callers (parallel cargo tests) around the build.
exec 9>"$target/.build.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
if needs_build; then
    echo "store-compat: building with Maven (log: $target/build.log)" >&2
    # shellcheck disable=SC2086
    if ! mvn -q -B -Dstyle.color=never ${MAVEN_ARGS_EXTRA:-} -f "$here/pom.xml" compile \
        >"$target/build.log" 2>&1; then
        cat "$target/build.log" >&2
        echo "store-compat: Maven build failed" >&2
        exit 1
    fi
    touch "$stamp"
fi
exec 9>&-

if [[ $# -eq 0 ]]; then
    echo "usage: run.sh write DIR COUNT [options] | run.sh read DIR [options] | run.sh build" >&2
    exit 1
fi
if [[ "$1" == "build" ]]; then
    exit 0
fi

java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
# shellcheck disable=SC2086
exec "$java" -XX:+UseSerialGC -Xss1m \
    --add-opens=java.base/java.nio=ALL-UNNAMED \
    --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
    --add-opens=java.base/java.lang=ALL-UNNAMED \
    -Dcompat.log.level="${COMPAT_LOG_LEVEL:-WARN}" \
    ${COMPAT_JAVA_OPTS:-} \
    -cp "$target/classes:$target/lib/*" io.skylark.compat.StoreCompat "$@"
