#!/usr/bin/env bash
# Compile the platform-free core (android_demo/core) and its JUnit 4 tests with plain javac and run them.
# No Gradle, no Android SDK: JDK >= 11 and Debian's junit4 + libhamcrest-java (`make java-deps`).
#
#   android_demo/run_core_tests.sh [GOLDEN_DIR]
#
# GOLDEN_DIR (or env BHPE_GOLDEN) holds the files written by tests/test_android_core.py from a real
# converted model; the golden tests are skipped without it unless BHPE_GOLDEN_REQUIRED=1.
# Exit status: 0 when every test passed, non-zero otherwise.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JUNIT_JAR="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
HAMCREST_JAR="${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}"
GOLDEN="${1:-${BHPE_GOLDEN:-}}"

for tool in javac java; do
    command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool not found; install a JDK (make java-deps)" >&2; exit 2; }
done
for jar in "$JUNIT_JAR" "$HAMCREST_JAR"; do
    [ -f "$jar" ] || { echo "error: $jar not found; run 'make java-deps' (apt-get install junit4 libhamcrest-java)" >&2; exit 2; }
done

BUILD="$(mktemp -d "${TMPDIR:-/tmp}/bhpe-core-tests.XXXXXX")"
trap 'rm -rf "$BUILD"' EXIT
CP="$JUNIT_JAR:$HAMCREST_JAR"

find "$HERE/core/src/main/java" -name '*.java' > "$BUILD/main.txt"
find "$HERE/core/src/test/java" -name '*.java' > "$BUILD/test.txt"
# --release 11: the core stays within the Java level the Android module compiles for.
javac --release 11 -Xlint:all -Werror -encoding UTF-8 -d "$BUILD/main" @"$BUILD/main.txt"
javac --release 11 -encoding UTF-8 -cp "$BUILD/main:$CP" -d "$BUILD/test" @"$BUILD/test.txt"

TESTS=$(sed -e "s|^$HERE/core/src/test/java/||" -e 's|\.java$||' -e 's|/|.|g' "$BUILD/test.txt" | grep 'Test$' | sort)
echo "running: $(echo $TESTS)"
java -ea -Dbhpe.golden="$GOLDEN" -Dbhpe.golden.required="${BHPE_GOLDEN_REQUIRED:-0}" \
    -cp "$BUILD/main:$BUILD/test:$CP" org.junit.runner.JUnitCore $TESTS
