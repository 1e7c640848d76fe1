#!/usr/bin/env bash
# Compile the plain-Java runner core and run its JUnit 4 tests with the JDK alone (no Gradle, no Android SDK).
# Needs Debian's default-jdk-headless and junit4. Classes go to android_runner/core/build/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")"
CP=/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar
rm -rf build && mkdir -p build/main build/test
javac -Xlint:all -Werror -d build/main $(find src/main/java -name '*.java')
javac -d build/test -cp "build/main:$CP" $(find src/test/java -name '*.java')
tests=$(cd src/test/java && find . -name '*Test.java' | sed 's|^\./||; s|\.java$||; s|/|.|g')
java -cp "build/main:build/test:$CP" org.junit.runner.JUnitCore $tests
