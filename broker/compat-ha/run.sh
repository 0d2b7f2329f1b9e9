#!/usr/bin/env bash
# Java side of Skylark's replication interop proof (see README.md).
#
#   run.sh broker HOME CONF   Apache RocketMQ 5.3.3's broker, configured by CONF, with
#                             HOME as rocketmq.home.dir and user.home (its logs go to
#                             HOME/logs/rocketmqlogs); prints "... boot success ..." once up
#   run.sh build              only (re)build
#
# Needs JDK 17+ and Maven; Maven Central must be reachable for the first build only.
# The build is cached in target/ (scripts/java-harness.sh).
# Environment: COMPAT_JAVA_OPTS (extra JVM flags), MAVEN_ARGS_EXTRA (extra mvn flags, e.g. -o).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/java-harness.sh
source "$here/../../scripts/java-harness.sh"
harness_build broker-compat-ha "$here"

if [[ $# -eq 0 ]]; then
    echo "usage: run.sh broker HOME CONF | run.sh build" >&2
    exit 1
fi
if [[ "$1" == "build" ]]; then
    exit 0
fi
if [[ "$1" != "broker" || $# -ne 3 ]]; then
    echo "usage: run.sh broker HOME CONF | run.sh build" >&2
    exit 1
fi

java="$(harness_java)"
mkdir -p "$2"
# shellcheck disable=SC2086
exec "$java" -XX:+UseSerialGC -Xms64m -Xmx384m -XX:MaxDirectMemorySize=256m \
    -Drocketmq.home.dir="$2" -Duser.home="$2" \
    ${COMPAT_JAVA_OPTS:-} \
    -cp "$harness_cp" io.skylark.compat.JavaReplica -c "$3"
