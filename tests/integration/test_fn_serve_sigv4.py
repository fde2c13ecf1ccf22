"""A keyed `fn serve` (--api-key-file) takes requests to Lambda's APIs signed
(SigV4) with the file's AWS credentials: the AWS CLI (v2 and v1) and boto3
work with nothing but those credentials and --endpoint-url; other
credentials, or none, get Lambda's 403 errors as the CLI prints them."""
import json
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from helpers import created_functions
from test_fn_lambda_api import Cli, Server

KEY_ID, SECRET = "AKIDPYCONTAINTEST01", "s3cr3t-0123456789abcdef"
API_KEY = "key-one-0123456789abcdef"


@pytest.fixture(scope="module")
def functions(engine_env, tmp_path_factory):
    yield from created_functions(engine_env, tmp_path_factory.mktemp("fnsigv4"),
                                 "def echo(event, context):\n    return event\n",
                                 {"signed-echo": "app.echo"})


@pytest.fixture
def keyed(pc, functions, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"# an API key, and AWS credentials\n{API_KEY}\n{KEY_ID} {SECRET}\n")
    srv = Server(pc, "--api-key-file", keys)
    yield srv
    assert srv.stop() == 0, "".join(srv.lines)


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_the_aws_cli_signs_its_way_in(keyed, tmp_path, version):
    cli = Cli(version, keyed.url, tmp_path)
    refused = cli.error("list-functions")  # the CLI's dummy credentials: not the server's
    assert refused == "An error occurred (UnrecognizedClientException) when calling the " \
                      "ListFunctions operation: The security token included in the request " \
                      "is invalid."
    cli.env.update(AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY="not-the-secret-0123")
    assert cli.error("get-function", "--function-name", "signed-echo").startswith(
        "An error occurred (InvalidSignatureException) when calling the GetFunction "
        "operation: The request signature we calculated does not match")
    cli.env.update(AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="eu-west-1")
    names = [f["FunctionName"] for f in cli.json("list-functions", "--page-size", "5")
             ["Functions"]]
    assert "signed-echo" in names
    arn = "arn:aws:lambda:us-east-1:000000000000:function:signed-echo"  # ':' in the path
    assert cli.json("get-function-configuration", "--function-name", arn)["Handler"] == \
        "app.echo"
    out = tmp_path / "out.json"
    raw = ["--cli-binary-format", "raw-in-base64-out"] if version == "v2" else []
    result = cli("invoke", "--function-name", "signed-echo", "--payload", '{"k": 1}', *raw,
                 str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text()) == {"k": 1}


def test_boto3_signs_and_the_api_key_still_opens(keyed):
    client = boto3.client("lambda", endpoint_url=keyed.url, region_name="us-east-1",
                          aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                          config=Config(retries={"total_max_attempts": 1}))
    answer = client.invoke(FunctionName="signed-echo", Payload=b'{"via": "boto3"}')
    assert json.loads(answer["Payload"].read()) == {"via": "boto3"}
    assert client.list_event_source_mappings(FunctionName="signed-echo",
                                             MaxItems=3)["EventSourceMappings"] == []
    with pytest.raises(ClientError) as unsigned:
        keyed.client.list_functions()  # keyed.client: dummy credentials
    assert unsigned.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    request = urllib.request.Request(f"{keyed.url}/status", headers={"x-api-key": API_KEY})
    with urllib.request.urlopen(request) as r:
        assert r.status == 200
