#!/bin/bash
# The stand-in's kafka-get-offsets.sh: org.apache.kafka.tools.GetOffsetShell, as in Kafka's distribution.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.GetOffsetShell "$@"
