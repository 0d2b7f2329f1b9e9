# Shared by the Java compatibility harnesses (store/compat, nameserver/compat):
# builds a harness's Maven project once, caching it in its target/, and gives
# the classpath to run it with. Source it, then call `harness_build NAME DIR`.
#
# The build is redone when pom.xml or src/ change, serialised with flock so
# that parallel cargo tests wait for one build. Maven's output goes to
# target/build.log (shown on failure). MAVEN_ARGS_EXTRA adds mvn flags (e.g. -o).

# harness_build NAME DIR: builds the project in DIR if needed; sets harness_cp.
harness_build() {
    local name="$1" dir="$2"
    local target="$dir/target"
    local stamp="$target/.build-stamp"
    mkdir -p "$target"

    exec 9>"$target/.build.lock"
    if command -v flock >/dev/null 2>&1; then
        flock 9
    fi
    if [[ ! -f "$stamp" || ! -d "$target/classes" || ! -d "$target/lib" ]] ||
        [[ -n "$(find "$dir/pom.xml" "$dir/src" -newer "$stamp" -print -quit)" ]]; then
        echo "$name: building with Maven (log: $target/build.log)" >&2
        # shellcheck disable=SC2086
        if ! mvn -q -B -Dstyle.color=never ${MAVEN_ARGS_EXTRA:-} -f "$dir/pom.xml" compile \
            >"$target/build.log" 2>&1; then
            cat "$target/build.log" >&2
            echo "$name: Maven build failed" >&2
            exit 1
        fi
        touch "$stamp"
    fi
    exec 9>&-

    # shellcheck disable=SC2034 # read by the caller
    harness_cp="$target/classes:$target/lib/*"
}

# The java binary: $JAVA_HOME's when set.
harness_java() {
    echo "${JAVA_HOME:+$JAVA_HOME/bin/}java"
}
