#!/usr/bin/env python3
"""Event source mappings end to end through `pycontain fn serve`, a fresh jail
per call, a trivial handler: messages/s through a RabbitMQ mapping and an SQS
mapping (moto's server; SQS_MESSAGES only: moto scans its whole queue on
every receive, so it slows down as the queue grows) with BatchSize 10 and
100 (the queue filled first, the rate timed from the first processed batch
to the last), moto's own pace without a function (the ceiling of the SQS
rows), and the latency from `basic_publish` to the handler's start (one
message at a time, batching window 0; the handler reads the clock, the
host's, and prints the difference). Starts its own rabbitmq-server and
moto_server on loopback (as the tests do). Mappings are made through
Lambda's API (boto3 create_event_source_mapping).
Run as root: bench/fn_triggers.py [MESSAGES] [LATENCY_SAMPLES]."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import boto3
from botocore.config import Config
from common import PYCONTAIN, REPO
from fn_routes import fn_serve, private_store
from fn_serve import percentile

sys.path.append(str(REPO / "tests" / "integration"))
from trigger_helpers import moto_server, rabbitmq_node  # noqa: E402

SQS_MESSAGES = 200
HANDLER = '''import base64, json, time
def handler(event, context):
    now = time.time()
    for messages in event.get("rmqMessagesByQueue", {}).values():
        for message in messages:
            sent = json.loads(base64.b64decode(message["data"])).get("sent")
            if sent:
                print("LATENCY %.3f" % ((now - sent) * 1000))
    return {}
'''


def counters(port: int, uuid: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status") as r:
        mapping = json.load(r)["triggers"]["mappings"].get(uuid, {})
    return mapping.get("Counters", {})


def drained_rate(port: int, uuid: str, total: int, timeout: float = 60.0) -> float:
    """Messages/s from the first processed batch until all total are processed."""
    first, deadline = None, time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = counters(port, uuid).get("Processed", 0)
        now = time.monotonic()
        if done and first is None:
            first = (now, done)
        if done >= total:
            return (total - first[1]) / (now - first[0]) if now > first[0] else float("nan")
        time.sleep(0.01)
    raise RuntimeError(f"mapping {uuid}: {counters(port, uuid)} after {timeout} s")


def run_mapping(client, port: int, source: str, total: int, **fields) -> float:
    uuid = client.create_event_source_mapping(FunctionName="consume", EventSourceArn=source,
                                              **fields)["UUID"]
    try:
        return drained_rate(port, uuid, total)
    finally:
        client.delete_event_source_mapping(UUID=uuid)


def rabbit_rates(client, port: int, amqp: int, total: int) -> list:
    import pika
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", amqp))
    channel = connection.channel()
    rows = []
    for batch in (10, 100):
        queue = f"bench-{batch}"
        channel.queue_declare(queue)
        for n in range(total):
            channel.basic_publish("", queue, json.dumps({"n": n}).encode())
        rate = run_mapping(client, port, f"amqp://127.0.0.1:{amqp}", total, Queues=[queue],
                           BatchSize=batch)
        rows.append((f"RabbitMQ, BatchSize {batch}", rate))
    connection.close()
    return rows


def sqs_rates(client, port: int, endpoint: str, total: int) -> list:
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    rows = []
    for batch in (10, 100):
        url = sqs.create_queue(QueueName=f"bench-{batch}")["QueueUrl"]
        for start in range(0, total, 10):
            sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "MessageBody": json.dumps({"n": n})}
                for n in range(start, min(total, start + 10))])
        window = {} if batch <= 10 else {"MaximumBatchingWindowInSeconds": 1}
        rate = run_mapping(client, port, url, total, BatchSize=batch, **window)
        rows.append((f"SQS (moto_server), BatchSize {batch}", rate))
    return rows


def sqs_ceiling(endpoint: str, total: int) -> tuple:
    """moto_server's own pace: receive 10 + delete them, no function called."""
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName="bench-ceiling")["QueueUrl"]
    for start in range(0, total, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "MessageBody": "{}"} for n in range(start, min(total, start + 10))])
    done, start = 0, time.monotonic()
    while done < total:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       AttributeNames=["All"],
                                       MessageAttributeNames=["All"]).get("Messages", [])
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)])
        done += len(messages)
    return ("SQS receive + delete alone, no function", total / (time.monotonic() - start))


def publish_latency(client, port: int, amqp: int, samples: int) -> list:
    """Milliseconds from basic_publish to the handler's start, one message at a time."""
    import pika
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", amqp))
    channel = connection.channel()
    channel.queue_declare("bench-latency")
    uuid = client.create_event_source_mapping(
        FunctionName="consume", EventSourceArn=f"amqp://127.0.0.1:{amqp}",
        Queues=["bench-latency"], BatchSize=10, MaximumBatchingWindowInSeconds=0)["UUID"]
    try:
        for n in range(samples + 5):  # the first 5 warm up (a mapping's first call)
            channel.basic_publish("", "bench-latency",
                                  json.dumps({"sent": time.time() if n >= 5 else 0}).encode())
            deadline = time.monotonic() + 30
            while counters(port, uuid).get("Processed", 0) <= n:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"message {n} was not processed")
                time.sleep(0.005)
    finally:
        client.delete_event_source_mapping(UUID=uuid)
        connection.close()
    logs = subprocess.run([PYCONTAIN, "fn", "logs", "consume"], check=True,
                          capture_output=True, text=True).stdout
    return [float(ms) for ms in re.findall(r"LATENCY ([\d.]+)", logs)]


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    samples = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with private_store("pycontain-bench-triggers-", {"consume": HANDLER}), \
            rabbitmq_node() as amqp, moto_server() as endpoint:
        with fn_serve("--max-concurrency", "8") as port:  # moto's credentials: in os.environ
            client = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}",
                                  region_name="us-east-1",
                                  config=Config(retries={"total_max_attempts": 1}))
            rows = rabbit_rates(client, port, amqp, total) + \
                sqs_rates(client, port, endpoint, SQS_MESSAGES)
            rows.append(sqs_ceiling(endpoint, SQS_MESSAGES))
            latencies = publish_latency(client, port, amqp, samples)
    print(f"\nEvent source mappings through fn serve, a fresh jail per call "
          f"({total} RabbitMQ, {SQS_MESSAGES} SQS messages queued first, {os.cpu_count()} CPUs)")
    print(f"| {'source':<40} | {'messages/s':>10} |")
    print(f"|{'-' * 42}|{'-' * 12}|")
    for label, rate in rows:
        print(f"| {label:<40} | {rate:10.0f} |")
    print(f"\nbasic_publish -> handler start (RabbitMQ, one message at a time, "
          f"{len(latencies)} samples): p50 {percentile(latencies, 0.5):.2f} ms, "
          f"p99 {percentile(latencies, 0.99):.2f} ms")


if __name__ == "__main__":
    main()
