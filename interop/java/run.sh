#!/usr/bin/env bash
# Java side of Skylark's interop suite (see README.md): unmodified applications of
# the official Apache RocketMQ Java client against a running skylark.
#
#   run.sh 4|5 SCENARIO NAMESRV_ADDR [ARGS...]   run SCENARIO with rocketmq-client 4.9.x (4)
#                                                or 5.x (5); exit 0 when every check passed
#   run.sh build                                 only (re)build both
#
# Progress and ok:/FAIL: lines go to stdout, everything else (Maven, stack traces) to
# stderr; the client's own log goes to $HOME/logs/rocketmqlogs. Exit codes: 0 ok,
# 1 usage/build/unexpected error, 3 a check failed, 4 the scenario's hang guard fired.
# Needs JDK 17+ and Maven; Maven Central must be reachable for the first build only.
# The builds are cached in target/ and client5/target/ (scripts/java-harness.sh).
# Environment: INTEROP_JAVA_OPTS (extra JVM flags), MAVEN_ARGS_EXTRA (extra mvn flags).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/java-harness.sh
source "$here/../../scripts/java-harness.sh"

usage="usage: run.sh 4|5 SCENARIO NAMESRV_ADDR [ARGS...] | run.sh build"
if [[ $# -eq 0 ]]; then
    echo "$usage" >&2
    exit 1
fi

# client5/src links to ../src, which the helper does not look into: a change
# there must drop client5's stamp so that it is rebuilt too.
stamp5="$here/client5/target/.build-stamp"
if [[ -f "$stamp5" && -n "$(find "$here/src" "$here/pom.xml" -newer "$stamp5" -print -quit)" ]]; then
    rm -f "$stamp5"
fi

case "$1" in
build)
    harness_build interop-java-client4 "$here"
    harness_build interop-java-client5 "$here/client5"
    exit 0
    ;;
4) harness_build interop-java-client4 "$here" ;;
5) harness_build interop-java-client5 "$here/client5" ;;
*)
    echo "$usage" >&2
    exit 1
    ;;
esac
shift

java="$(harness_java)"
# user.home follows $HOME, so that the client's log and broadcasting offsets
# land where the caller put HOME (the Rust driver: a temporary directory).
# shellcheck disable=SC2086
exec "$java" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k \
    -Duser.home="${HOME:-/tmp}" \
    -Drocketmq.client.logUseSlf4j=false \
    ${INTEROP_JAVA_OPTS:-} \
    -cp "$harness_cp" io.skylark.interop.ScenarioMain "$@"
