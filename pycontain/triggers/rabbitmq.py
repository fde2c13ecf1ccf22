"""A RabbitMQ queue as an event source, as Lambda's Amazon MQ for RabbitMQ.

One consumer per mapping (one call in flight at a time) with prefetch =
BatchSize; a batch is called when it is full, when the batching window
(MaximumBatchingWindowInSeconds, default 0.5 s) has passed since its first
message, or when more would make the event over 6 MB. A call that succeeds
acks the batch; one that fails nacks it with requeue (the broker redelivers
it, `redelivered: true`): at least once. The connection is kept alive
(heartbeats) while the function runs; messages not acked when the mapping
stops go back to the queue.

    {"eventSource": "aws:rmq", "eventSourceArn": "amqp://HOST:PORT",
     "rmqMessagesByQueue": {"QUEUE::VHOST": [{"basicProperties": {...},
                                             "redelivered": false, "data": BASE64}]}}
"""
import base64
import datetime as dt
import json
import os
import stat
import threading
import time

from pycontain.errors import PycontainError
from pycontain.fn.outcome import MAX_EVENT
from pycontain.triggers import mapping as fields
from pycontain.triggers.source import Problem, Source

SECRET_MAX = 64 * 1024  # a BASIC_AUTH secret file's largest size
PUMP = 0.2          # seconds between looks at the stop flag while idle
MAX_DEPTH = 16      # nested header tables shown; deeper ones as text
PROPERTIES = (("contentType", "content_type"), ("contentEncoding", "content_encoding"),
              ("headers", "headers"), ("deliveryMode", "delivery_mode"),
              ("priority", "priority"), ("correlationId", "correlation_id"),
              ("replyTo", "reply_to"), ("expiration", "expiration"),
              ("messageId", "message_id"), ("timestamp", "timestamp"), ("type", "type"),
              ("userId", "user_id"), ("appId", "app_id"), ("clusterId", "cluster_id"))


def _header(value, depth: int = 0):
    """A header value as Lambda shows it: text as {"bytes": [...]}, numbers as is."""
    if depth > MAX_DEPTH:
        return str(value)
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return {"bytes": [b - 256 if b > 127 else b for b in value]}  # Java's signed bytes
    if isinstance(value, dict):
        return {str(k): _header(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_header(v, depth + 1) for v in value]
    if isinstance(value, dt.datetime):
        return _timestamp(value.replace(tzinfo=dt.timezone.utc).timestamp())
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return float(value) if hasattr(value, "as_tuple") else str(value)  # Decimal


def _timestamp(seconds):
    """Java's default date format, as Lambda's event has it: Jan 1, 1970, 12:33:41 AM
    (the raw number, or None, if it is no date Python can show)."""
    try:
        moment = dt.datetime.fromtimestamp(int(seconds), dt.timezone.utc)
    except (OverflowError, ValueError, OSError, TypeError):
        return seconds if isinstance(seconds, int) else None
    hour = moment.hour % 12 or 12
    return (f"{moment.strftime('%b')} {moment.day}, {moment.year}, {hour}:"
            f"{moment.strftime('%M:%S')} {'AM' if moment.hour < 12 else 'PM'}")


def message(properties, redelivered: bool, body: bytes) -> dict:
    """One message of the aws:rmq event."""
    shown = {}
    for name, attribute in PROPERTIES:
        value = getattr(properties, attribute, None)
        if value is not None and name == "headers":
            value = _header(value)
        elif value is not None and name == "timestamp":
            value = _timestamp(value)
        shown[name] = value
    shown["bodySize"] = len(body)
    return {"basicProperties": shown, "redelivered": bool(redelivered),
            "data": base64.b64encode(body).decode()}


def _secret_text(path: str) -> str:
    """A secret file's text: a regular file, not through a final symlink, at
    most 64 KiB."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path[:200]} is not a regular file")
        data = os.read(fd, SECRET_MAX + 1)
    finally:
        os.close(fd)
    if len(data) > SECRET_MAX:
        raise OSError(f"{path[:200]} is over {SECRET_MAX} bytes")
    return data.decode("utf-8")


def _credentials(stored: dict, address: dict) -> tuple:
    """(username, password, vhost): the URL's, or SourceAccessConfigurations'."""
    user, password, vhost = address["username"], address["password"], address["vhost"]
    for item in stored.get("SourceAccessConfigurations") or ():
        if item["Type"] == "VIRTUAL_HOST":
            vhost = item["URI"]
        elif item["Type"] == "BASIC_AUTH":
            path = item["URI"].removeprefix("file://")
            try:
                secret = json.loads(_secret_text(path))
                user, password = secret["username"], secret["password"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise Problem(f"cannot read the BASIC_AUTH secret {path[:200]}: a JSON file "
                              f'{{"username", "password"}} ({exc})') from None
    return user or "guest", password or "guest", vhost


def _connect(address: dict, user: str, password: str, vhost: str):
    """A pika connection to the broker; Problem saying why there is none."""
    import logging
    import pika
    logging.getLogger("pika").setLevel(logging.CRITICAL)  # the state says what failed
    import pika.exceptions as errors
    where = broker(address)
    params = pika.ConnectionParameters(
        host=address["host"], port=address["port"], virtual_host=vhost,
        credentials=pika.PlainCredentials(user, password), connection_attempts=1,
        socket_timeout=5, blocked_connection_timeout=60,
        ssl_options=pika.SSLOptions(__import__("ssl").create_default_context())
        if address["tls"] else None)
    try:
        return pika.BlockingConnection(params)
    except errors.ProbableAuthenticationError:
        raise Problem(f"the broker {where} refused the credentials of user {user!r}") from None
    except errors.ProbableAccessDeniedError:
        raise Problem(f"user {user!r} may not use virtual host {vhost!r} on {where}") from None
    except errors.AMQPConnectionError as exc:
        raise Problem(f"cannot connect to the broker {where}: {exc!r}"[:500]) from None


def broker(address: dict) -> str:
    """amqp(s)://HOST:PORT: the broker, as events and errors name it."""
    return f"amqp{'s' if address['tls'] else ''}://{address['host']}:{address['port']}"


def publish(exchange: dict, body: bytes, message_id: str) -> None:
    """Publish one JSON message (an async destination's record) to exchange
    (invoke_config's), confirmed by the broker; PycontainError if it is not."""
    import pika
    import pika.exceptions as errors
    try:
        connection = _connect(exchange, exchange["username"] or "guest",
                              exchange["password"] or "guest", exchange["vhost"])
    except Problem as exc:
        raise PycontainError(str(exc)) from None
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(exchange["exchange"], exchange["routing_key"], body,
                              pika.BasicProperties(content_type="application/json",
                                                   delivery_mode=2, message_id=message_id),
                              mandatory=True)
    except errors.UnroutableError:
        raise PycontainError(f"exchange {exchange['exchange']!r} routes key "
                             f"{exchange['routing_key']!r} to no queue") from None
    except errors.ChannelClosedByBroker as exc:
        raise PycontainError(f"exchange {exchange['exchange']!r}: {exc.reply_text}") from None
    finally:
        if connection.is_open:
            connection.close()


class RabbitSource(Source):
    def _connect(self):
        address = fields.rabbitmq_address(self.mapping["EventSourceArn"])
        user, password, self.vhost = _credentials(self.mapping, address)
        self.arn = broker(address)
        return _connect(address, user, password, self.vhost)

    def consume(self) -> None:
        import pika.exceptions as errors
        connection = self._connect()
        queue = self.mapping["Queues"][0]
        try:
            channel = connection.channel()
            try:
                channel.queue_declare(queue, passive=True)
            except errors.ChannelClosedByBroker as exc:
                raise Problem(f"queue {queue!r} on {self.arn} (virtual host {self.vhost!r}): "
                              f"{exc.reply_text}") from None
            channel.basic_qos(prefetch_count=self.mapping["BatchSize"])
            self.pending = []
            channel.basic_consume(queue, lambda _ch, method, props, body: self.pending.append(
                (method, props, body)))
            self.ok()
            self._batches(connection, channel, queue)
        finally:
            if connection.is_open:
                connection.close()  # what is not acked goes back to the queue

    def _batches(self, connection, channel, queue) -> None:
        batch, window = self.mapping["BatchSize"], self.mapping["MaximumBatchingWindowInSeconds"]
        key = f"{queue}::{self.vhost}"
        first = None
        while not self.stop.is_set():
            if not self.pending:
                connection.process_data_events(time_limit=PUMP)
                first = time.monotonic() if self.pending else None
                continue
            left = first + window - time.monotonic()
            if len(self.pending) < batch and left > 0:
                connection.process_data_events(time_limit=min(left, PUMP))
                continue
            taken, size = [], 0
            while self.pending and len(taken) < batch:
                body = self.pending[0][2]
                size += 4 * len(body) // 3 + 700
                if taken and size > MAX_EVENT - 1024:
                    break
                taken.append(self.pending.pop(0))
            self._deliver(connection, channel, key, taken)
            first = time.monotonic() if self.pending else None

    def _shown(self, channel, taken: list) -> tuple:
        """(messages as the event shows them, their deliveries); one that cannot
        be shown is dropped (nacked without requeue, logged), as Lambda drops
        records it cannot process."""
        shown, kept = [], []
        for method, props, body in taken:
            try:
                shown.append(message(props, method.redelivered, body))
                kept.append(method)
            except Exception as exc:  # noqa: BLE001 - a hostile property must not wedge us
                channel.basic_nack(delivery_tag=method.delivery_tag, requeue=False)
                self.count(Failed=1)
                self.runner.log(f"pycontain fn serve: mapping {self.mapping['UUID'][:8]} "
                                f"dropped a message it cannot show: {exc!r}"[:500] + "\n")
        return shown, kept

    def _deliver(self, connection, channel, key: str, taken: list) -> None:
        shown, kept = self._shown(channel, taken)
        if not kept:
            return
        event = {"eventSource": "aws:rmq", "eventSourceArn": self.arn,
                 "rmqMessagesByQueue": {key: shown}}
        done = []
        call = threading.Thread(target=lambda: done.append(self.call(event)), daemon=True,
                                name=f"{threading.current_thread().name}-call")
        call.start()
        while call.is_alive():  # heartbeats go on while the function runs
            call.join(PUMP)  # returns as soon as the call ends (pika's wait would not)
            connection.process_data_events(time_limit=0)
        succeeded = bool(done) and done[0][0]
        last = kept[-1].delivery_tag
        if succeeded:
            channel.basic_ack(delivery_tag=last, multiple=True)
            self.count(Processed=len(kept), Batches=1)
        else:
            channel.basic_nack(delivery_tag=last, multiple=True, requeue=True)
            self.count(Failed=len(kept), Retried=len(kept), Batches=1)
