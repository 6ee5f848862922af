#!/bin/bash
# The stand-in's kafka-storage.sh: kafka.tools.StorageTool, as in Kafka's distribution.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
