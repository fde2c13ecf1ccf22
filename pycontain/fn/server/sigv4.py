"""AWS Signature Version 4, checked on a request to Lambda's APIs, so the AWS
CLI and boto3 reach a `fn serve` bound beyond loopback with nothing but
credentials of its --api-key-file (a line `ACCESS_KEY_ID SECRET_ACCESS_KEY`)
and --endpoint-url.

The canonical request is botocore's for a non-S3 service: the path as sent,
percent-encoded once more; the query's pairs as sent, sorted; the signed
headers' values trimmed, inner spaces collapsed; the body's SHA-256. The
credential scope must name the X-Amz-Date's day and the service `lambda`;
X-Amz-Date must be within MAX_SKEW of the server's clock. Any region is
accepted (the scope's is used). Presigned URLs (a signature in the query) are
not: fn serve's clients sign headers.
"""
import hashlib
import hmac
import re
import time
from calendar import timegm
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = 15 * 60   # seconds, as AWS
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]{1,128})/(\d{8})/([a-z0-9-]{1,32})/"
    r"([a-z0-9-]{1,32})/aws4_request, ?SignedHeaders=([a-z0-9;._-]{1,2048}), ?"
    r"Signature=([0-9a-f]{64})\Z")
MISMATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.")


class Refused(Exception):
    """Not signed by a known credential: (Lambda's error type, message)."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


def is_signed(request) -> bool:
    return request.headers.get("authorization", "").startswith(ALGORITHM + " ")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _canonical(request, signed: list) -> str:
    split = urlsplit(request.target)
    pairs = sorted(pair.partition("=")[::2] for pair in split.query.split("&")) \
        if split.query else []
    values = {}
    for name, value in request.fields:
        if name in signed:
            values.setdefault(name, []).append(" ".join(value.split()))
    headers = "".join(f"{name}:{','.join(values.get(name, []))}\n" for name in signed)
    return "\n".join((request.method, quote(split.path or "/", safe="/~"),
                      "&".join(f"{k}={v}" for k, v in pairs), headers, ";".join(signed),
                      hashlib.sha256(request.body).hexdigest()))


def verify(request, credentials: dict, now: float | None = None) -> str:
    """The access key id that signed request; Refused if none of credentials
    ({access key id: secret}) did."""
    match = AUTHORIZATION.match(request.headers.get("authorization", ""))
    if not match:
        raise Refused("IncompleteSignatureException", "The Authorization header is not a "
                      "well-formed AWS4-HMAC-SHA256 signature.")
    key_id, day, region, service, signed_text, signature = match.groups()
    secret = credentials.get(key_id)
    if secret is None:
        raise Refused("UnrecognizedClientException",
                      "The security token included in the request is invalid.")
    stamp = request.headers.get("x-amz-date", "")
    try:
        signed_at = timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise Refused("IncompleteSignatureException", "X-Amz-Date is missing or not "
                      "YYYYMMDDTHHMMSSZ.") from None
    signed = signed_text.split(";")
    if stamp[:8] != day or service != "lambda" or "host" not in signed or \
            "x-amz-date" not in signed or signed != sorted(set(signed)):
        raise Refused("InvalidSignatureException", "Credential should be scoped to the "
                      "request's date and service lambda, signing host and x-amz-date.")
    unsigned = sorted(h for h in request.headers if h.lower().startswith("x-amz-")
                      and h.lower() not in signed)
    if unsigned:  # else a man in the middle could add x-amz-invocation-type...
        raise Refused("InvalidSignatureException", f"Header {unsigned[0][:64]} is not "
                      "signed: every x-amz-* header must be.")
    now = time.time() if now is None else now
    if abs(now - signed_at) > MAX_SKEW:
        raise Refused("InvalidSignatureException", f"Signature expired: {stamp} is not within "
                      f"{MAX_SKEW // 60} minutes of the server's time "
                      f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))}.")
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join((ALGORITHM, stamp, scope, hashlib.sha256(
        _canonical(request, signed).encode()).hexdigest()))
    key = (f"AWS4{secret}").encode()
    for part in (day, region, service, "aws4_request"):
        key = _hmac(key, part)
    if not hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(),
                               signature):
        raise Refused("InvalidSignatureException", MISMATCH)
    return key_id
