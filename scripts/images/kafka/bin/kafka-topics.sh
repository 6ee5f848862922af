#!/bin/bash
# The stand-in's kafka-topics.sh: org.apache.kafka.tools.TopicCommand, as in Kafka's distribution.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.TopicCommand "$@"
