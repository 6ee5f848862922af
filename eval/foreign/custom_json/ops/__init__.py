"""The ops-jobs agents: a dispatcher and its workers talking over Kafka in the team's own JSON."""
