"""S3 object notifications for an S3 mapping (EventSourceArn arn:aws:s3:::BUCKET).

They come from the bucket's notifications to an SQS queue (sqs.S3QueueSource),
or pushed to fn serve by MinIO's or Ceph RGW's webhook target: a JSON body
with S3's `Records` (MinIO adds EventName and Key beside them). A record is
kept if it is for the mapping's bucket, its eventName matches one of the
mapping's Events (default: every s3:ObjectCreated:* and s3:ObjectRemoved:*)
and its key (URL-decoded, as S3's filter rules see it) matches the Filter's
prefix and suffix. The function gets {"Records": [...]}, asynchronously."""
from urllib.parse import unquote_plus

from pycontain.triggers import mapping as fields

MAX_RECORDS = 1000
DEFAULT_EVENTS = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*")


def _rules(mapping: dict) -> dict:
    rules = ((mapping.get("Filter") or {}).get("Key") or {}).get("FilterRules", [])
    return {rule["Name"].lower(): rule["Value"] for rule in rules}


def _event_matches(name: str, patterns) -> bool:
    name = f"s3:{name}"
    return any(name == p or (p.endswith(":*") and name.startswith(p[:-1])) for p in patterns)


def matching(mapping: dict, event) -> list:
    """The records of an S3 notification event this mapping takes."""
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        return []  # s3:TestEvent, or not an S3 notification at all
    bucket = fields.S3_ARN.match(mapping["EventSourceArn"])[1]
    patterns = mapping.get("Events") or DEFAULT_EVENTS
    rules = _rules(mapping)
    kept = []
    for record in event["Records"][:MAX_RECORDS]:
        try:
            s3 = record["s3"]
            key = unquote_plus(s3["object"]["key"])
            if s3["bucket"]["name"] != bucket or not isinstance(record["eventName"], str):
                continue
        except (KeyError, TypeError):
            continue
        if _event_matches(record["eventName"], patterns) and \
                key.startswith(rules.get("prefix", "")) and key.endswith(rules.get("suffix", "")):
            kept.append(record)
    return kept
