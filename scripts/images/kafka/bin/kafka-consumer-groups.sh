#!/bin/bash
# The stand-in's kafka-consumer-groups.sh: org.apache.kafka.tools.consumer.group.ConsumerGroupCommand, as in Kafka's distribution.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@"
