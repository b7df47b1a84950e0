#!/usr/bin/env bash
# Writes the CRDs of Strimzi's Kafka, KafkaNodePool and KafkaTopic into strimzi-<version>/ the
# way Strimzi's own build makes the CRDs it ships: its CRD generator run over its API classes,
# both taken from Maven Central (pom.xml), with the arguments of the api module's pom.xml. The
# deploy tests validate the Kafka resources against these files. Needs Maven and Java 21+
# (set JAVA_HOME); run it again after changing the version in pom.xml.
set -euo pipefail
cd "$(dirname "$0")"
version="$(sed -n 's:.*<strimzi.version>\(.*\)</strimzi.version>.*:\1:p' pom.xml)"
out="strimzi-${version}"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mvn -q -f pom.xml dependency:build-classpath -Dmdep.outputFile="$work/classpath.txt"
mkdir -p "$out"
"$java" -cp "$(cat "$work/classpath.txt")" io.strimzi.crdgenerator.CrdGenerator \
  --label app:strimzi --label strimzi.io/crd-install:true --target-kube 1.16+ \
  --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
  "io.strimzi.api.kafka.model.kafka.Kafka=$out/040-Crd-kafka.yaml" \
  "io.strimzi.api.kafka.model.topic.KafkaTopic=$out/043-Crd-kafkatopic.yaml" \
  "io.strimzi.api.kafka.model.nodepool.KafkaNodePool=$out/045-Crd-kafkanodepool.yaml"
echo "wrote $out/"
