"""fn serve's SigV4 check against botocore's own signer (what the AWS CLI and
boto3 send): a signed request passes; a changed body, query or header, a wrong
secret, an unknown key id or a stale date does not."""
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from pycontain.fn.server import sigv4

KEY_ID, SECRET = "AKIDPYCONTAIN0001", "secret-0123456789abcdef"
URL = ("http://127.0.0.1:9000/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A0"
       "00000000000%3Afunction%3Af/invocations?Qualifier=%24LATEST&A=b%20c")


def signed(body=b'{"a": 1}', secret=SECRET, key_id=KEY_ID):
    request = AWSRequest("POST", URL, data=body,
                         headers={"X-Amz-Invocation-Type": "Event",
                                  "Content-Type": "application/json"})
    auth = SigV4Auth(Credentials(key_id, secret), "lambda", "eu-west-1")
    auth.add_auth(request)
    split = urlsplit(URL)
    fields = [(k.lower(), v.decode() if isinstance(v, bytes) else v)
              for k, v in request.headers.items()]
    fields.append(("host", split.netloc))
    return SimpleNamespace(method="POST", target=f"{split.path}?{split.query}", body=body,
                           fields=fields, headers=dict(fields))


def test_a_botocore_signature_verifies():
    assert sigv4.verify(signed(), {KEY_ID: SECRET}) == KEY_ID


@pytest.mark.parametrize("change, error", [
    (lambda r: setattr(r, "body", b'{"a": 2}'), "InvalidSignatureException"),
    (lambda r: setattr(r, "target", r.target.replace("b%20c", "b%20d")),
     "InvalidSignatureException"),
    (lambda r: r.fields.__setitem__(0, (r.fields[0][0], "RequestResponse")),
     "InvalidSignatureException"),
])
def test_a_changed_request_is_refused(change, error):
    request = signed()
    change(request)
    with pytest.raises(sigv4.Refused) as refused:
        sigv4.verify(request, {KEY_ID: SECRET})
    assert refused.value.error_type == error


def test_an_added_unsigned_amz_header_is_refused():
    """A man in the middle adding x-amz-client-context (or switching a call to
    Event with a header the client did not send) breaks the signature."""
    request = signed()
    request.headers["x-amz-client-context"] = "e30="
    with pytest.raises(sigv4.Refused) as refused:
        sigv4.verify(request, {KEY_ID: SECRET})
    assert refused.value.error_type == "InvalidSignatureException"
    assert "x-amz-client-context" in str(refused.value)


def test_wrong_secret_unknown_key_and_stale_date():
    with pytest.raises(sigv4.Refused, match="signature we calculated does not match"):
        sigv4.verify(signed(secret="another-secret-0123"), {KEY_ID: SECRET})
    with pytest.raises(sigv4.Refused) as unknown:
        sigv4.verify(signed(key_id="AKIDSOMEONEELSE00"), {KEY_ID: SECRET})
    assert unknown.value.error_type == "UnrecognizedClientException"
    with pytest.raises(sigv4.Refused, match="Signature expired"):
        sigv4.verify(signed(), {KEY_ID: SECRET}, now=time.time() + 20 * 60)
    request = signed()
    request.headers["authorization"] = "AWS4-HMAC-SHA256 Credential=x"
    with pytest.raises(sigv4.Refused) as malformed:
        sigv4.verify(request, {KEY_ID: SECRET})
    assert malformed.value.error_type == "IncompleteSignatureException"
