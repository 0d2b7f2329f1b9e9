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
# The build is cached in target/ and redone when pom.xml or src/ changes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="$here/target"
stamp="$target/.build-stamp"
mkdir -p "$target"

needs_build() {
    [[ ! -f "$stamp" || ! -d "$target/classes" || ! -d "$target/lib" ]] && return 0
    [[ -n "$(find "$here/pom.xml" "$here/src" -newer "$stamp" -print -quit)" ]]
}

# Serialise concurrent callers around the build.
exec 9>"$target/.build.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
if needs_build; then
    echo "nameserver-compat: building with Maven (log: $target/build.log)" >&2
    # shellcheck disable=SC2086
    if ! mvn -q -B -Dstyle.color=never ${MAVEN_ARGS_EXTRA:-} -f "$here/pom.xml" compile \
        >"$target/build.log" 2>&1; then
        cat "$target/build.log" >&2
        echo "nameserver-compat: Maven build failed" >&2
        exit 1
    fi
    touch "$stamp"
fi
exec 9>&-

if [[ $# -eq 0 ]]; then
    echo "usage: run.sh check HOST:PORT | run.sh build" >&2
    exit 1
fi
if [[ "$1" == "build" ]]; then
    exit 0
fi

java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
# shellcheck disable=SC2086
exec "$java" -XX:+UseSerialGC ${COMPAT_JAVA_OPTS:-} \
    -Drocketmq.client.logUseSlf4j=false \
    -cp "$target/classes:$target/lib/*" io.skylark.compat.NamesrvCompat "$@"
