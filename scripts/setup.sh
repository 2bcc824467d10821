#!/usr/bin/env bash
# Idempotent setup: virtual environment + package, Flink connector jars, Debian chromium for UI tests.
# Fast when already done (each step checks a stamp or the installed tool first).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)

"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (PyFlink 1.20)"' \
  || { echo "setup: Python 3.11 is needed; set PYTHON=/path/to/python3.11" >&2; exit 1; }
command -v java >/dev/null || { echo "setup: Java 17 is needed for Apache Flink (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }

if [ ! -f "$STAMP" ]; then
  echo "setup: installing the Python packages into $VENV (first run takes a few minutes)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/pip" install -q --disable-pip-version-check -e ".[test]"
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi

if [ -f flink/pom.xml ]; then
  # rebuilt when the pom or any app source changes (the zips carry the sources)
  JAR_STAMP=flink/target/.jars-$(find flink -path flink/target -prune -o -type f -print | sort | xargs cat | sha1sum | cut -c1-12)
  if [ ! -f "$JAR_STAMP" ]; then
    command -v mvn >/dev/null || { echo "setup: Maven is needed to fetch the Flink Kinesis connector" >&2; exit 1; }
    echo "setup: fetching the Flink Kinesis connector with Maven"
    mvn -q -B -f flink/pom.xml package
    rm -f flink/target/.jars-*
    touch "$JAR_STAMP"
  fi
fi

if [ "${LABKIT_SKIP_BROWSER:-0}" != 1 ] && ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "setup: chromium is missing; browser tests need it (sudo apt-get install chromium)" >&2
  fi
fi

SHIM=labkit/local/native/loopback_bind.so
if [ ! -f "$SHIM" ] || [ "$SHIM" -ot labkit/local/native/loopback_bind.c ]; then
  command -v gcc >/dev/null || { echo "setup: gcc is needed to build $SHIM (apt-get install gcc)" >&2; exit 1; }
  gcc -shared -fPIC -O2 -o "$SHIM" labkit/local/native/loopback_bind.c -ldl
fi

# moto's own test suites (tests/moto_suites): the pinned moto's source distribution, downloaded once into build/
"$VENV/bin/python" -m tests.moto_suites.suites fetch >/dev/null \
  || echo "setup: moto's test suites are not fetched; tests/moto_suites will try again" >&2
