"""S3 object notifications for an S3 mapping (EventSourceArn arn:aws:s3:::BUCKET).

They come from the bucket's notifications to an SQS queue (sqs.S3QueueSource),
or pushed to fn serve by MinIO's or Ceph RGW's webhook target: a JSON body
with S3's `Records` (MinIO adds EventName and Key beside them). A record is
kept if it is for the mapping's bucket, its eventName matches one of the
mapping's Events (default: every s3:ObjectCreated:* and s3:ObjectRemoved:*)
and its key (URL-decoded, as S3's filter rules see it) matches the Filter's
prefix and suffix. The function gets {"Records": [...]}, asynchronously
(MinIO's `s3:ObjectCreated:Put` event names in S3's spelling, ObjectCreated:Put).
The webhook: POST http://127.0.0.1:PORT/pycontain/s3-events."""
from urllib.parse import unquote_plus

from pycontain.errors import PycontainError
from pycontain.triggers import mapping as fields

MAX_RECORDS = 1000
DEFAULT_EVENTS = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*")


def _rules(mapping: dict) -> dict:
    rules = ((mapping.get("Filter") or {}).get("Key") or {}).get("FilterRules", [])
    return {rule["Name"].lower(): rule["Value"] for rule in rules}


def _event_matches(name: str, patterns) -> bool:
    name = f"s3:{name.removeprefix('s3:')}"
    return any(name == p or (p.endswith(":*") and name.startswith(p[:-1])) for p in patterns)


def _record(record):
    """(eventName, bucket, URL-decoded key) of an S3 record, or None if any of
    them is missing or not a string."""
    s3 = record.get("s3") if isinstance(record, dict) else None
    bucket = s3.get("bucket") if isinstance(s3, dict) else None
    item = s3.get("object") if isinstance(s3, dict) else None
    fields_ = (record.get("eventName") if isinstance(record, dict) else None,
               bucket.get("name") if isinstance(bucket, dict) else None,
               item.get("key") if isinstance(item, dict) else None)
    if not all(isinstance(f, str) for f in fields_):
        return None
    return fields_[0], fields_[1], unquote_plus(fields_[2])


def checked(event) -> list:
    """The records of an S3 notification event ([] for s3:TestEvent);
    InvalidRequestContentException if it is not one, or a record is malformed."""
    if isinstance(event, dict) and "Records" not in event:
        return []  # s3:TestEvent
    found = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(found, list) or not all(_record(r) for r in found[:MAX_RECORDS]):
        raise PycontainError("InvalidRequestContentException: not an S3 notification: "
                             '{"Records": [{"eventName", "s3": {"bucket": {"name"}, '
                             '"object": {"key"}}}]} (strings)')
    return found


def matching(mapping: dict, event) -> list:
    """The records of an S3 notification event this mapping takes (malformed
    ones are skipped)."""
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        return []  # s3:TestEvent, or not an S3 notification at all
    bucket = fields.S3_ARN.match(mapping["EventSourceArn"])[1]
    patterns = mapping.get("Events") or DEFAULT_EVENTS
    rules = _rules(mapping)
    kept = []
    for record in event["Records"][:MAX_RECORDS]:
        shown = _record(record)
        if shown is None or shown[1] != bucket:
            continue
        name, _, key = shown
        if _event_matches(name, patterns) and \
                key.startswith(rules.get("prefix", "")) and key.endswith(rules.get("suffix", "")):
            if name.startswith("s3:"):  # MinIO's spelling: S3's is without
                record = {**record, "eventName": name[3:]}
            kept.append(record)
    return kept


WEBHOOK = "/pycontain/s3-events"  # fn serve's path for MinIO's / Ceph RGW's webhook


def receive(runner, body: bytes) -> int:
    """A webhook notification: queue S3's event for every enabled S3 mapping
    that takes some of its records; how many calls were queued."""
    from pycontain import jsonio
    from pycontain.triggers import store
    try:
        event = jsonio.parse(body, "the notification")
    except PycontainError as exc:
        raise PycontainError(f"InvalidRequestContentException: {exc}") from None
    checked(event)
    queued = 0
    for stored in store.load_all():
        if stored.get("Enabled") and fields.kind_of(stored) == fields.S3:
            records = matching(stored, event)
            if records:
                runner.events.accept(stored["FunctionName"], jsonio.dumps(
                    {"Records": records}, indent=None).encode(), source=stored["EventSourceArn"])
                queued += 1
    return queued
