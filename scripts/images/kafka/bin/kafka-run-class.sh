#!/bin/bash
# The stand-in apache/kafka image's kafka-run-class.sh (scripts/images): runs a Kafka class on the
# jars in /opt/kafka/libs with the variables of Kafka's own script: KAFKA_HEAP_OPTS,
# KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_GC_LOG_OPTS, KAFKA_JMX_OPTS, KAFKA_LOG4J_OPTS, KAFKA_OPTS,
# CLASSPATH, JAVA_HOME.
set -eu
if [ $# -lt 1 ]; then
  echo "USAGE: $0 classname [opts]" >&2
  exit 1
fi
base_dir=$(cd "$(dirname "$0")/.." && pwd)
classpath="$base_dir/libs/*${CLASSPATH:+:$CLASSPATH}"
heap_opts=${KAFKA_HEAP_OPTS:--Xmx256M}
performance_opts=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}
log4j_opts=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/tools-log4j2.properties}
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
# The *_OPTS are split into words on purpose, as Kafka's script does.
# shellcheck disable=SC2086
exec "$java" $heap_opts $performance_opts ${KAFKA_GC_LOG_OPTS:-} ${KAFKA_JMX_OPTS:-} $log4j_opts \
  -cp "$classpath" ${KAFKA_OPTS:-} "$@"
