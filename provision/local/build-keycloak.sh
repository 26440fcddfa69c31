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
tar -xzf "$work/keycloak-quarkus-dist-$version.tar.gz" -C "$partial" --strip-components=1
# Build options: an in-memory database (the realm is imported at every start), no health or
# metrics endpoints (no management listener). Runtime options are given at start.
log "building Keycloak $version (Quarkus augmentation, about 30 s)"
"$partial/bin/kc.sh" build --db=dev-mem --health-enabled=false --metrics-enabled=false >&2
rm -rf "$out"
mv "$partial" "$out"
log "Keycloak $version in $out"
