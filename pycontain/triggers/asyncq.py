"""Asynchronous invocations (X-Amz-Invocation-Type: Event, schedules, S3):
a durable queue in the store, as Lambda's internal queue.

An event is written (fsync + rename) before it is accepted, and removed only
once its call has ended for good: a server killed at any point runs it after
its restart (at least once). A failed call is retried MaximumRetryAttempts
times (default 2), after RETRY_DELAY seconds and then twice that (Lambda's
1 and 2 minutes; PYCONTAIN_FN_RETRY_DELAY changes it); an event older than
MaximumEventAgeInSeconds is not called again. Then the on-failure
destination gets Lambda's record (requestContext, requestPayload,
responseContext, responsePayload); a call that succeeds goes to the
on-success destination, if there is one. A record its destination does not
take (down, refused) is kept in the store's undelivered/ directory.
Each event's due time is kept in memory (rebuilt from the files at start):
a pass over the queue reads only the events it calls."""
import base64
import datetime as dt
import os
import threading
import time
import traceback

from pycontain import jsonio
from pycontain.errors import PycontainError
from pycontain.fn.outcome import new_request_id
from pycontain.fsutil import read_json, write_json
from pycontain.triggers import invoke_config, store
from pycontain.triggers import mapping as fields

RETRY_DELAY = 60.0
MAX_QUEUED = 256  # events accepted and not finished (6 MB each at most): past that 429
WORKERS = 8      # async calls at once
POLL = 0.2       # seconds between looks at the queue when nothing wakes it


def _timestamp(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _json(data: bytes):
    """data as JSON, or as text if it is not (too deep, not UTF-8...)."""
    try:
        return jsonio.parse(data, "the payload")
    except PycontainError:
        return data.decode("utf-8", "replace")


class AsyncQueue:
    def __init__(self, runner, retry_delay: float | None = None):
        self.runner, self.clock = runner, runner.clock
        self.dir = store.root("events")
        if retry_delay is None:
            retry_delay = float(os.environ.get("PYCONTAIN_FN_RETRY_DELAY", RETRY_DELAY))
        self.retry_delay = retry_delay
        self.wake, self.stopping = threading.Event(), threading.Event()
        self.lock = threading.Lock()
        self.busy, self.threads = set(), set()
        self.counts = {"Accepted": 0, "Succeeded": 0, "Retried": 0, "Failed": 0,
                       "Undelivered": 0}  # records a destination did not take
        self.due = self._index()  # path -> Due of every queued event

    def _index(self) -> dict:
        """path -> Due of each event file (read once, at start; unreadable ones
        are left where they are)."""
        due = {}
        for entry in os.listdir(self.dir):
            path = os.path.join(self.dir, entry)
            try:
                if entry.endswith(".json"):
                    due[path] = float(read_json(path)["Due"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return due

    def accept(self, name: str, payload: bytes, request_id: str | None = None,
               source: str | None = None) -> str:
        """Queue one call of function name (durably); its request id."""
        if len(self.due) >= MAX_QUEUED:
            raise PycontainError("TooManyRequestsException: Rate Exceeded. (the queue of "
                                 f"{MAX_QUEUED} asynchronous invocations is full)")
        request_id = request_id or new_request_id()
        now = self.clock.time()
        path = os.path.join(self.dir, f"{request_id}.json")
        write_json(path, {
            "FunctionName": name, "RequestId": request_id, "Source": source,
            "Payload": base64.b64encode(payload or b"{}").decode(), "Received": now,
            "Due": now, "Attempts": 0})
        with self.lock:
            self.due[path] = now
        self._count("Accepted")
        self.wake.set()
        return request_id

    def _count(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1
        self.runner.changed()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()
            self._dispatch()
            self.wake.wait(POLL)

    def _dispatch(self) -> None:
        """Start a call for each event that is due (the oldest first)."""
        now = self.clock.time()
        with self.lock:
            ready = sorted((due, path) for path, due in self.due.items()
                           if due <= now and path not in self.busy)
        for _, path in ready:
            with self.lock:
                if len(self.threads) >= WORKERS or self.stopping.is_set():
                    return
            try:
                item = read_json(path)
            except (OSError, ValueError):  # gone, or not ours to run: left alone
                with self.lock:
                    self.due.pop(path, None)
                continue
            thread = threading.Thread(target=self._deliver, args=(path, item), daemon=True,
                                      name=f"async-{item['RequestId'][:8]}")
            with self.lock:
                self.busy.add(path)
                self.threads.add(thread)
            thread.start()

    def _deliver(self, path: str, item: dict) -> None:
        try:
            self._attempt(path, item)
        except Exception:  # noqa: BLE001 - a bug: the event stays queued, the log says why
            self.runner.log(f"pycontain fn serve: async event {item['RequestId']}:\n"
                            f"{traceback.format_exc()}")
            if os.path.exists(path):  # an attempt all the same: never a hot loop
                self._later(path, item)
        finally:
            with self.lock:
                self.busy.discard(path)
                self.threads.discard(threading.current_thread())
            self.wake.set()

    def _attempt(self, path: str, item: dict) -> None:
        name, payload = item["FunctionName"], base64.b64decode(item["Payload"])
        config = invoke_config.get(name)
        if self.clock.time() - item["Received"] > config["MaximumEventAgeInSeconds"]:
            return self._finish(path, item, config, "EventAgeExceeded", None)
        try:
            out = self.runner.invoke(name, payload, item["RequestId"])
        except PycontainError as exc:
            if self.stopping.is_set():
                return  # the server is stopping: the event stays for the next one
            out = None
            self.runner.log(f"pycontain fn serve: async event {item['RequestId']} for "
                            f"{name}: {exc}\n")
        item["Attempts"] += 1
        if out is not None and not out.function_error:
            return self._finish(path, item, config, "Success", out)
        if item["Attempts"] > config["MaximumRetryAttempts"]:
            return self._finish(path, item, config, "RetriesExhausted", out)
        self._later(path, item, counted=True)

    def _later(self, path: str, item: dict, counted: bool = False) -> None:
        """Call the event again after the back-off for its attempts."""
        if not counted:
            item["Attempts"] += 1
        item["Due"] = self.clock.time() + self.retry_delay * 2 ** min(item["Attempts"] - 1, 10)
        write_json(path, item)
        with self.lock:
            self.due[path] = item["Due"]
        self._count("Retried")

    def _finish(self, path: str, item: dict, config: dict, condition: str, out) -> None:
        key = "OnSuccess" if condition == "Success" else "OnFailure"
        target = config["DestinationConfig"].get(key, {}).get("Destination")
        if target:
            record = self.record(item, condition, out)
            try:
                deliver(target, record, item["RequestId"])
            except Exception as exc:  # noqa: BLE001 - down, or refused it: park the record
                self._undelivered(target, record, exc)
        os.unlink(path)
        with self.lock:
            self.due.pop(path, None)
        self._count("Succeeded" if condition == "Success" else "Failed")

    def _undelivered(self, target: str, record: dict, exc: Exception) -> None:
        """A record its destination did not take: kept in the store, not lost
        (and the event is not called again)."""
        request_id = record["requestContext"]["requestId"]
        parked = os.path.join(store.root("undelivered"), f"{request_id}.json")
        shown = fields.redact(target) if "://" in target else target
        write_json(parked, {"Destination": shown, "Reason": str(exc)[:500], "Record": record})
        self.runner.log(f"pycontain fn serve: async event {request_id}: destination "
                        f"{shown[:200]} failed ({str(exc)[:300]}): its record is in {parked}\n")
        self._count("Undelivered")

    def record(self, item: dict, condition: str, out) -> dict:
        """Lambda's destination record for one asynchronous invocation."""
        name = item["FunctionName"]
        context = {"statusCode": 200, "executedVersion": "$LATEST"}
        if out is not None and out.function_error:
            context["functionError"] = out.function_error
        record = {"version": "1.0", "timestamp": _timestamp(self.clock.time()),
                  "requestContext": {
                      "requestId": item["RequestId"],
                      "functionArn": f"arn:aws:lambda:{store.REGION}:{store.ACCOUNT}:"
                                     f"function:{name}:$LATEST",
                      "condition": condition, "approximateInvokeCount": item["Attempts"]},
                  "requestPayload": _json(base64.b64decode(item["Payload"]))}
        if out is not None:
            record["responseContext"] = context
            record["responsePayload"] = _json(out.payload) if out.payload else None
        return record

    def stop(self, grace: float) -> None:
        """Start no more calls; wait up to grace for those running (an event
        whose call is cut short stays queued)."""
        self.stopping.set()
        self.wake.set()
        with self.lock:
            threads = list(self.threads)
        deadline = time.monotonic() + grace
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def status(self) -> dict:
        with self.lock:
            counts = dict(self.counts)
            counts["Queued"] = len(self.due)
        return counts


def deliver(target: str, record: dict, request_id: str) -> None:
    """Write a destination record to a directory or send it to an SQS queue
    or a RabbitMQ exchange."""
    where = invoke_config.destination(target)
    body = jsonio.dumps(record, indent=None)
    if "dir" in where:
        write_json(os.path.join(where["dir"], f"{record['timestamp']}-{request_id}.json"),
                   record)
    elif "amqp" in where:
        from pycontain.triggers import rabbitmq
        rabbitmq.publish(where["amqp"], body.encode(), request_id)
    else:
        from pycontain.triggers import sqs
        sqs.send(where["sqs"], body)
