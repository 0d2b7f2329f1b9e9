#!/usr/bin/env bash
# Regenerates ../tests/vectors with Apache RocketMQ 5.3.3's own encoders.
# Needs a JDK 17+ and Maven (Maven Central reachable on the first run).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(cd "$here/.." && pwd)/tests/vectors"

# Start from an empty tree so that vectors dropped from the generator do not linger.
rm -rf "$out/frames" "$out/messages" "$out/batch" "$out/bodies" \
    "$out/manifest.json" "$out/misc.json" "$out/uniq_keys.json"
mkdir -p "$out"

# exec:exec runs GenerateVectors in its own JVM (see pom.xml); UTC keeps the
# time-zone dependent field of uniq_keys.json comparable between machines.
TZ=UTC mvn -q -B -Dstyle.color=never -f "$here/pom.xml" compile exec:exec -Dvectors.out="$out"

echo "vectors written to $out"
