#!/usr/bin/env bash
# Installs Keycloak's server distribution from Maven Central into OUT_DIR and runs its build
# step once (Quarkus augmentation with the local cluster's build options), so that every
# bring-up starts it with --optimized.
# Usage: build-keycloak.sh VERSION OUT_DIR        (VERSION like 26.4.7; needs Java 17+ and mvn)
set -euo pipefail
version=${1:?usage: build-keycloak.sh VERSION OUT_DIR}
out=${2:?usage: build-keycloak.sh VERSION OUT_DIR}

log() { echo "kubeproof: $*" >&2; }

work=$(mktemp -d)
partial="$out.partial.$$"
trap 'rm -rf "$work" "$partial"' EXIT
mkdir -p "$(dirname "$out")"

log "downloading org.keycloak:keycloak-quarkus-dist:$version from Maven Central"
mvn -q -B dependency:copy "-Dartifact=org.keycloak:keycloak-quarkus-dist:$version:tar.gz" \
  "-DoutputDirectory=$work" >&2
mkdir -p "$partial"
tar -xzf "$work/keycloak-quarkus-dist-$version.tar.gz" -C "$partial" --strip-components=1 --no-same-owner
# Build options: an in-memory database (the realm is imported at every start), no health or
# metrics endpoints (no management listener). Runtime options are given at start.
log "building Keycloak $version (Quarkus augmentation, about 30 s)"
"$partial/bin/kc.sh" build --db=dev-mem --health-enabled=false --metrics-enabled=false >&2
# A class-data archive of one training start: later starts load those classes mapped from it
# (on 2 cores about 14 s instead of 18 s). A JVM it does not fit ignores it.
log "recording Keycloak's class-data archive (one training start, about 40 s)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
JAVA_OPTS_APPEND="-XX:TieredStopAtLevel=1 -XX:ArchiveClassesAtExit=$partial/kubeproof-cds.jsa -Dquarkus.transaction-manager.object-store.directory=$work/transactions" \
  "$partial/bin/kc.sh" start --optimized --cache=local --http-enabled=true --http-host=127.0.0.1 \
  "--http-port=$port" "--hostname=http://127.0.0.1:$port" >"$work/training.log" 2>&1 &
training=$!
for _ in $(seq 1 480); do
  grep -q "started in" "$work/training.log" && break
  kill -0 "$training" 2>/dev/null || break
  sleep 0.25
done
kill -TERM "$training" 2>/dev/null || true
wait "$training" || true
if [[ -s $partial/kubeproof-cds.jsa ]]; then
  log "class-data archive: $(du -h "$partial/kubeproof-cds.jsa" | cut -f1)"
else
  log "no class-data archive was written (Keycloak starts without one); the training start said:"
  tail -n 5 "$work/training.log" >&2
fi
rm -rf "$partial/data"
rm -rf "$out"
mv "$partial" "$out"
log "Keycloak $version in $out"
