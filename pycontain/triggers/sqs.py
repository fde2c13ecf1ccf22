"""An SQS queue as an event source (AWS itself, or any SQS-compatible endpoint
such as moto's server), through boto3 (pip install 'pycontain[triggers]').

Pollers long-poll ReceiveMessage (up to 10 messages, WAIT seconds) and gather
a batch of up to BatchSize messages within MaximumBatchingWindowInSeconds;
ScalingConfig.MaximumConcurrency pollers (default 2) share the queue. After
a call that succeeds the batch is deleted; after one that fails nothing is
(each message comes back when its visibility timeout ends). With
FunctionResponseTypes [ReportBatchItemFailures] the function may answer
{"batchItemFailures": [{"itemIdentifier": MESSAGE_ID}]}: only those come
back. Messages received but not yet called when the mapping stops are made
visible again at once.

S3QueueSource reads an S3 bucket's notifications from such a queue and
calls the function asynchronously with S3's own event (see s3events)."""
import os

from pycontain import jsonio
from pycontain.errors import PycontainError
from pycontain.triggers import mapping as fields
from pycontain.triggers import s3events
from pycontain.triggers.source import Problem, Source

WAIT = 2            # seconds of one long poll (what a stop may wait for)
POLLERS = 2         # Lambda starts several; MaximumConcurrency caps them
MAX_RECORD_BODY = 256 * 1024


def client(queue: dict):
    """boto3's SQS client for a queue (its URL's endpoint, or AWS's)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise Problem("an SQS source needs boto3: pip install 'pycontain[triggers]'") from None
    region = queue["region"] or os.environ.get("AWS_REGION") or \
        os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = None
    if queue["url"]:
        scheme, _, rest = queue["url"].partition("://")
        endpoint = f"{scheme}://{rest.split('/', 1)[0]}"
    return boto3.client("sqs", region_name=region, endpoint_url=endpoint,
                        config=Config(retries={"max_attempts": 2},
                                      read_timeout=WAIT + 10, connect_timeout=5))


def queue_url(sqs, queue: dict) -> str:
    if queue["url"]:
        return queue["url"]
    return sqs.get_queue_url(QueueName=queue["name"],
                             QueueOwnerAWSAccountId=queue["account"])["QueueUrl"]


def send(queue: dict, body: str) -> None:
    """Send one message (an async destination's record)."""
    try:
        sqs = client(queue)
        sqs.send_message(QueueUrl=queue_url(sqs, queue), MessageBody=body)
    except Problem as exc:
        raise PycontainError(str(exc)) from None


def _attributes(message_attributes: dict) -> dict:
    """MessageAttributes as Lambda's event spells them."""
    shown = {}
    for name, value in (message_attributes or {}).items():
        item = {"stringListValues": [], "binaryListValues": [],
                "dataType": value.get("DataType")}
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            import base64
            item["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        shown[name] = item
    return shown


class SqsSource(Source):
    def _open(self):
        import botocore.exceptions as errors
        source = getattr(self, "queue_mapping", self.mapping)["EventSourceArn"]
        queue = fields.sqs_queue(source)
        self.sqs = client(queue)
        try:
            self.url = queue_url(self.sqs, queue)
            self.arn = self.sqs.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        except errors.ClientError as exc:
            raise Problem(f"queue {source[:200]}: "
                          f"{exc.response['Error'].get('Message') or exc}") from None
        except (errors.BotoCoreError, ValueError) as exc:
            raise Problem(f"cannot reach {source[:200]}: {exc}") from None
        self.region = self.arn.split(":")[3]
        self.ok()

    def consume(self) -> None:
        """MaximumConcurrency pollers; when one fails, all stop (and are joined)
        before its error goes up to be reported and the set started again."""
        import threading
        self._open()
        count = (self.mapping.get("ScalingConfig") or {}).get("MaximumConcurrency", POLLERS)
        self.ended, failed = threading.Event(), []

        def side() -> None:
            try:
                self._poller()
            except Exception as exc:  # noqa: BLE001 - raised again by consume
                failed.append(exc)
                self.ended.set()
        pollers = [threading.Thread(target=side, daemon=True,
                                    name=f"{threading.current_thread().name}-{n}")
                   for n in range(1, count)]
        for thread in pollers:
            thread.start()
        try:
            self._poller()
        finally:
            self.ended.set()
            for thread in pollers:
                thread.join()
        if failed:
            raise failed[0]

    def _over(self) -> bool:
        return self.stop.is_set() or self.ended.is_set()

    def _poller(self) -> None:
        import time
        batch = self.mapping.get("BatchSize", 10)
        window = self.mapping.get("MaximumBatchingWindowInSeconds", 0)
        while not self._over():
            messages, first = [], None
            while len(messages) < batch and not self._over():
                left = window - (time.monotonic() - first) if first else WAIT
                if first and left <= 0:
                    break
                received = self.sqs.receive_message(
                    QueueUrl=self.url, MaxNumberOfMessages=min(10, batch - len(messages)),
                    WaitTimeSeconds=max(0, min(WAIT, int(left))), AttributeNames=["All"],
                    MessageAttributeNames=["All"]).get("Messages", [])
                messages += received
                if messages and first is None:
                    first = time.monotonic()
                if not window and messages:
                    break
            if self._over():
                self._release(messages)
            elif messages:
                self.handle(messages)

    def _release(self, messages: list) -> None:
        """Received but not called: visible again at once."""
        for message in messages:
            try:
                self.sqs.change_message_visibility(QueueUrl=self.url, VisibilityTimeout=0,
                                                   ReceiptHandle=message["ReceiptHandle"])
            except Exception:  # noqa: BLE001 - gone or expired: it comes back anyway
                pass

    def record(self, message: dict) -> dict:
        return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"], "attributes": message.get("Attributes", {}),
                "messageAttributes": _attributes(message.get("MessageAttributes")),
                "md5OfBody": message["MD5OfBody"], "eventSource": "aws:sqs",
                "eventSourceARN": self.arn, "awsRegion": self.region}

    def handle(self, messages: list) -> None:
        ok, result = self.call({"Records": [self.record(m) for m in messages]})
        failed = set()
        if not ok:
            failed = {m["MessageId"] for m in messages}
        elif "ReportBatchItemFailures" in (self.mapping.get("FunctionResponseTypes") or ()):
            failed = self._reported(result, messages)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start:start + 10]
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)])
        self.count(Processed=len(done), Failed=len(failed), Retried=len(failed), Batches=1)

    @staticmethod
    def _reported(result, messages: list) -> set:
        """The message ids a ReportBatchItemFailures answer names (all of them
        if the answer is malformed or names an id not of the batch, as Lambda
        does)."""
        if not isinstance(result, dict) or not result.get("batchItemFailures"):
            return set()
        ids = {m["MessageId"] for m in messages}
        named = set()
        for item in result["batchItemFailures"] if isinstance(
                result["batchItemFailures"], list) else [None]:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not isinstance(identifier, str) or identifier not in ids:
                return ids
            named.add(identifier)
        return named


class S3QueueSource(SqsSource):
    """S3 notifications read from the mapping's queue (Queues[0])."""

    def _open(self):
        self.queue_mapping = {**self.mapping, "EventSourceArn": self.mapping["Queues"][0]}
        super()._open()

    def consume(self) -> None:
        if not self.mapping.get("Queues"):
            self.stop.wait()  # webhook only: events arrive through fn serve
            return
        super().consume()

    def handle(self, messages: list) -> None:
        for message in messages:
            try:
                event = jsonio.parse(message["Body"][:MAX_RECORD_BODY * 40], "a notification")
            except PycontainError:
                event = None  # not S3's: deleted, as Lambda drops what it cannot read
            records = s3events.matching(self.mapping, event)
            if records:
                self.runner.events.accept(self.name, jsonio.dumps(
                    {"Records": records}, indent=None).encode(), source=self.arn)
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
            self.count(Processed=len(records), Batches=1)
