"""An event source mapping's fields, with Lambda's names, checked strictly.

Which source a mapping reads is told by its fields:
  ScheduleExpression "rate(...)|cron(...)"      a schedule (EventBridge's rule)
  EventSourceArn amqp://HOST:PORT[/VHOST]       a RabbitMQ broker; Queues [NAME]
  EventSourceArn http(s)://.../ACCOUNT/QUEUE    an SQS queue by its URL
                 arn:aws:sqs:REGION:ACCOUNT:Q   (AWS itself, boto3's credentials)
  EventSourceArn arn:aws:s3:::BUCKET            S3 object events, from the
                 notification queue in Queues [QUEUE URL] and/or pushed to
                 fn serve's webhook; Events and S3's Filter narrow them
RabbitMQ credentials: in the URL, or SourceAccessConfigurations
[{"Type": "BASIC_AUTH", "URI": FILE}] where FILE holds Secrets Manager's
{"username", "password"}; {"Type": "VIRTUAL_HOST", "URI": VHOST}.
"""
import re
from urllib.parse import unquote, urlsplit

from pycontain.errors import PycontainError

SCHEDULE, RABBITMQ, SQS, S3 = "schedule", "rabbitmq", "sqs", "s3"
BATCH = {RABBITMQ: (1, 10000, 100), SQS: (1, 10000, 10)}  # min, max, default
MAX_WINDOW = 300
RMQ_WINDOW = 0.5   # Lambda's default batching window for Amazon MQ
MAX_TEXT = 1024
QUEUE_NAME = re.compile(r"[A-Za-z0-9_.:\-/ ]{1,255}\Z")
SQS_ARN = re.compile(r"arn:aws[a-z-]*:sqs:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,80}(\.fifo)?)\Z")
S3_ARN = re.compile(r"arn:aws[a-z-]*:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\Z")
S3_EVENT = re.compile(r"s3:(ObjectCreated|ObjectRemoved):(\*|Put|Post|Copy|"
                      r"CompleteMultipartUpload|Delete|DeleteMarkerCreated)\Z")
KNOWN = {"FunctionName", "EventSourceArn", "ScheduleExpression", "BatchSize",
         "MaximumBatchingWindowInSeconds", "Enabled", "FunctionResponseTypes", "Queues",
         "SourceAccessConfigurations", "ScalingConfig", "Events", "Filter", "StartingPosition"}
UPDATABLE = KNOWN - {"EventSourceArn", "StartingPosition"}


def invalid(message: str) -> PycontainError:
    return PycontainError(f"InvalidParameterValueException: {message}")


def kind_of(mapping: dict) -> str:
    if mapping.get("ScheduleExpression") is not None:
        return SCHEDULE
    arn = mapping.get("EventSourceArn")
    if not isinstance(arn, str) or not arn:
        raise invalid("EventSourceArn or ScheduleExpression is required")
    if len(arn) > MAX_TEXT:
        raise invalid("EventSourceArn is too long")
    if arn.startswith(("amqp://", "amqps://")):
        return RABBITMQ
    if arn.startswith(("http://", "https://")) or SQS_ARN.match(arn):
        return SQS
    if S3_ARN.match(arn):
        return S3
    raise invalid(f"unsupported event source {arn[:200]!r}: amqp://HOST:PORT, an SQS queue "
                  "URL or ARN, arn:aws:s3:::BUCKET, or a ScheduleExpression")


def typed(mapping, key, kind, default=None):
    value = mapping.get(key, default)
    if value is not None and (not isinstance(value, kind) or
                              (kind is int and isinstance(value, bool))):
        raise invalid(f"{key} must be {getattr(kind, '__name__', kind)}")
    return value


def number(mapping, key, low, high, default):
    value = typed(mapping, key, (int, float) if key.endswith("Seconds") else int, default)
    if value is not None and not low <= value <= high:
        raise invalid(f"{key} must be between {low} and {high}, not {value}")
    return value


def rabbitmq_address(url: str) -> dict:
    """host, port, vhost, username, password of amqp://[USER:PASS@]HOST[:PORT][/VHOST]."""
    try:
        split = urlsplit(url)
        port = split.port or (5671 if split.scheme == "amqps" else 5672)
    except ValueError as exc:
        raise invalid(f"bad broker address: {exc}") from None
    if not split.hostname or split.query or split.fragment:
        raise invalid(f"bad broker address {redact(url)!r}: amqp://HOST:PORT[/VHOST]")
    return {"host": split.hostname, "port": port, "tls": split.scheme == "amqps",
            "vhost": unquote(split.path[1:]) if len(split.path) > 1 else "/",
            "username": unquote(split.username) if split.username else None,
            "password": unquote(split.password) if split.password else None}


def redact(url: str) -> str:
    """The address without its password (what events and errors show)."""
    split = urlsplit(url)
    if split.password is None:
        return url
    netloc = split.netloc.rpartition("@")[2]
    return split._replace(netloc=f"{split.username}:***@{netloc}").geturl()


def sqs_queue(arn: str) -> dict:
    """url (None for an ARN), name, account, region of an SQS queue's URL or ARN."""
    match = SQS_ARN.match(arn)
    if match:
        return {"url": None, "region": match[1], "account": match[2], "name": match[3]}
    split = urlsplit(arn)
    parts = split.path.strip("/").split("/")
    if not split.hostname or len(parts) != 2 or not parts[0].isdigit() or split.query:
        raise invalid(f"bad SQS queue URL {arn[:200]!r}: http(s)://HOST/ACCOUNT/QUEUE")
    return {"url": arn, "region": None, "account": parts[0], "name": parts[1]}


def _access(mapping) -> list:
    configs = typed(mapping, "SourceAccessConfigurations", list, []) or []
    if len(configs) > 22:
        raise invalid("too many SourceAccessConfigurations")
    for item in configs:
        if not isinstance(item, dict) or set(item) != {"Type", "URI"} or \
                item["Type"] not in ("BASIC_AUTH", "VIRTUAL_HOST") or \
                not isinstance(item["URI"], str) or not 0 < len(item["URI"]) <= MAX_TEXT:
            raise invalid("SourceAccessConfigurations: items {Type: BASIC_AUTH|VIRTUAL_HOST, "
                          "URI}")
    return configs


def _s3_fields(mapping) -> None:
    events = typed(mapping, "Events", list, None)
    for event in events or ():
        if not isinstance(event, str) or not S3_EVENT.match(event):
            raise invalid(f"unknown S3 event type {str(event)[:100]!r}")
    shape = "Filter: {Key: {FilterRules: [{Name: prefix|suffix, Value}]}}"
    try:
        key = typed(typed(mapping, "Filter", dict, {}) or {}, "Key", dict, {}) or {}
        rules = typed(key, "FilterRules", list, []) or []
        if len(rules) > 2 or not all(isinstance(r, dict) and typed(r, "Value", str) is not None
                                     for r in rules):
            raise invalid(shape)
        names = [(typed(r, "Name", str) or "").lower() for r in rules]
    except PycontainError:
        raise invalid(shape) from None
    if any(n not in ("prefix", "suffix") for n in names) or len(set(names)) != len(names) or \
            any(len(r["Value"]) > MAX_TEXT for r in rules):
        raise invalid("Filter rules: at most one prefix and one suffix, each a string")


def check(mapping: dict) -> dict:
    """mapping with its defaults filled in; InvalidParameterValueException
    naming the first problem. FunctionName is checked by the caller."""
    unknown = set(mapping) - KNOWN
    if unknown:
        raise invalid(f"unknown field {sorted(unknown)[0][:64]!r}")
    kind = kind_of(mapping)
    out = dict(mapping)
    out["Enabled"] = typed(mapping, "Enabled", bool, True)
    if kind == SCHEDULE:
        from pycontain.triggers import cron
        cron.parse(typed(mapping, "ScheduleExpression", str))
        return out
    out["MaximumBatchingWindowInSeconds"] = number(
        mapping, "MaximumBatchingWindowInSeconds", 0, MAX_WINDOW,
        RMQ_WINDOW if kind == RABBITMQ else 0)
    queues = typed(mapping, "Queues", list, [])
    if not all(isinstance(q, str) and QUEUE_NAME.match(q) or kind == S3 and
               isinstance(q, str) and len(q) <= MAX_TEXT for q in queues):
        raise invalid("Queues: names of 1 to 255 letters, digits, or - _ . : / space")
    if kind in BATCH:
        low, high, default = BATCH[kind]
        out["BatchSize"] = number(mapping, "BatchSize", low, high, default)
    types = typed(mapping, "FunctionResponseTypes", list, []) or []
    if any(t != "ReportBatchItemFailures" for t in types) or (types and kind != SQS):
        raise invalid("FunctionResponseTypes: only ReportBatchItemFailures, for SQS")
    scaling = typed(mapping, "ScalingConfig", dict, None)
    if scaling is not None and (kind != SQS or set(scaling) != {"MaximumConcurrency"}):
        raise invalid("ScalingConfig: {MaximumConcurrency: N}, for SQS")
    if scaling is not None:
        number(scaling, "MaximumConcurrency", 2, 1000, None)
    if kind == RABBITMQ:
        rabbitmq_address(mapping["EventSourceArn"])
        if len(queues) != 1:
            raise invalid("Queues: a RabbitMQ mapping reads exactly one queue")
        _access(mapping)
    elif kind == SQS:
        sqs_queue(mapping["EventSourceArn"])
        if queues:
            raise invalid("Queues is for RabbitMQ (and an S3 mapping's notification queue)")
    else:
        if len(queues) > 1:
            raise invalid("Queues: an S3 mapping reads at most one notification queue")
        for queue in queues:
            sqs_queue(queue)
        _s3_fields(mapping)
    return out
