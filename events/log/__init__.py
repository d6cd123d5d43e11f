"""The event log: one `EventLog` interface and its two backends.

`base` holds the interface (topics of partitions of records, consumers with committed
positions); `embedded` keeps the log in one SQLite file, `kafka` on a Kafka cluster through
aiokafka. The backends are imported where they are chosen, so importing the interface loads
no Kafka client.
"""

from jobstream.events.log.base import (
    Consumer,
    EventLog,
    Message,
    Record,
    TopicPartition,
    to_message,
)

__all__ = [
    "Consumer",
    "EventLog",
    "Message",
    "Record",
    "TopicPartition",
    "to_message",
]
