"""Lambda's function API (the control plane: REST paths and JSON of the
2015-03-31 API) on `fn serve`, so boto3 and the AWS CLI manage functions
with `--endpoint-url` and nothing else changed. Every change goes through
fn.registry.functions, as `pycontain fn create/update/delete` do: one sees the other,
and a running server's next call runs what was changed (fn.server.zygote_pool
replaces a zygote whose function changed).

    POST   /2015-03-31/functions                          CreateFunction (201)
    GET    /2015-03-31/functions/                         ListFunctions (Marker, MaxItems)
    GET    /2015-03-31/functions/NAME                     GetFunction
    DELETE /2015-03-31/functions/NAME                     DeleteFunction (204)
    GET    /2015-03-31/functions/NAME/configuration       GetFunctionConfiguration
    PUT    /2015-03-31/functions/NAME/configuration       UpdateFunctionConfiguration
    PUT    /2015-03-31/functions/NAME/code                UpdateFunctionCode
    PUT    /2017-10-31/functions/NAME/concurrency         PutFunctionConcurrency
    DELETE /2017-10-31/functions/NAME/concurrency         DeleteFunctionConcurrency (204)
    GET    /2019-09-30/functions/NAME/concurrency         GetFunctionConcurrency
    GET    /2016-08-19/account-settings/                  GetAccountSettings

Event source mappings and asynchronous invocation settings: fn.server.lambda_events_api.

Bodies are strict JSON objects (no NaN, no repeated keys), at most 6 MB,
except a code upload's: Lambda's 50 MB zip, base64'd (and only two such
uploads are held at once, see httpd). Code comes as Code.ZipFile only; only
$LATEST exists (Publish, versions and aliases are refused).
"""
import base64
import binascii
import os
import platform
from urllib.parse import parse_qs, unquote, urlsplit

from pycontain import jsonio
from pycontain.errors import PycontainError
from pycontain.fdio import write_all
from pycontain.fn.registry import functions
from pycontain.fn.server.gateway import ApiError, error_response
from pycontain.fn.server.lambda_body import parse_body
from pycontain.fn.server.lambda_events_api import EventsApi
from pycontain.fn.oneshot.exec_command import MAX_MEMORY, MAX_TIMEOUT, MIN_MEMORY
from pycontain.fn.outcome import new_request_id

MAX_ZIP = 50 * 1024 * 1024                    # Lambda's zipped code, uploaded directly
UPLOAD_LIMITS = {"CreateFunction": 70167211,  # Lambda's request limits: MAX_ZIP base64'd
                 "UpdateFunctionCode": 69905067}  # (and the other fields)
PAGE = 50                                     # functions per ListFunctions page, as Lambda
MAX_ITEMS = 10000
ENV_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
HIDDEN = ("Image", "ReservedConcurrentExecutions", "Network")  # pycontain's, not FunctionConfiguration's
STORAGE = {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
           "CodeSizeZipped": MAX_ZIP}


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidParameterValueException", message)


class Fields:
    """Typed, range-checked access to a request's fields (Lambda's wording)."""

    def __init__(self, body: dict):
        self.body = body

    def get(self, key: str, kind, required: bool = False):
        value = self.body.get(key)
        if value is None:
            if required:
                raise functions.validation_error(None, key[0].lower() + key[1:],
                                                 "Member must not be null")
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ApiError("InvalidRequestContentException",
                           f"{key} must be a {getattr(kind, '__name__', 'value')}")
        return value

    def number(self, key: str, low: int, high: int, required: bool = False):
        value = self.get(key, int, required)
        field = key[0].lower() + key[1:]
        if value is not None and value < low:
            raise functions.validation_error(value, field, "Member must have value greater "
                                             f"than or equal to {low}")
        if value is not None and value > high:
            raise functions.validation_error(value, field, "Member must have value less than "
                                             f"or equal to {high}")
        return value

    def text(self, key: str, high: int, required: bool = False):
        value = self.get(key, str, required)
        if value is not None and len(value) > high:
            raise functions.validation_error(value[:64], key[0].lower() + key[1:],
                                             f"Member must have length less than or equal to "
                                             f"{high}")
        return value


def _environment(fields: Fields):
    """Environment.Variables as KEY=VALUE items (None: not given)."""
    environment = fields.get("Environment", dict)
    if environment is None:
        return None
    variables = Fields(environment).get("Variables", dict) or {}
    items = []
    for key, value in variables.items():
        if len(key) < 2 or not key[0].isascii() or not key[0].isalpha() or \
                not set(key) <= ENV_KEY_CHARS:
            raise functions.validation_error(key[:64], "environment.variables",
                                             "Map keys must satisfy constraint: [Member must "
                                             "satisfy regular expression pattern: "
                                             "[a-zA-Z]([a-zA-Z0-9_])+]")
        if not isinstance(value, str):
            raise ApiError("InvalidRequestContentException",
                           "Environment.Variables values must be strings")
        items.append(f"{key}={value}")
    return items


def _settings(fields: Fields) -> dict:
    """What UpdateFunctionConfiguration (and CreateFunction) may set."""
    role = fields.text("Role", functions.MAX_ROLE)
    if role is not None and not functions.ROLE.match(role):
        raise functions.validation_error(role, "role", "Member must satisfy regular "
                                         f"expression pattern: {functions.ROLE.pattern[:-2]}")
    handler = fields.text("Handler", 128)
    if handler is not None and (not handler or any(c.isspace() for c in handler)):
        raise functions.validation_error(handler, "handler",
                                         r"Member must satisfy regular expression pattern: [^\s]+")
    if fields.get("Layers", list):
        raise _invalid("pycontain does not support layers: put the code in the zip file")
    return {"handler": handler, "role": role, "runtime": fields.text("Runtime", 64),
            "description": fields.text("Description", functions.MAX_DESCRIPTION),
            "timeout": fields.number("Timeout", 1, MAX_TIMEOUT),
            "memory": fields.number("MemorySize", MIN_MEMORY, MAX_MEMORY),
            "env": _environment(fields)}


def _zip(fields: Fields, code: dict) -> bytes:
    """The zip file's bytes, from Code.ZipFile (base64)."""
    if any(code.get(k) for k in ("S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri")):
        raise _invalid("pycontain takes a function's code as ZipFile only (not from S3 or an "
                       "image)")
    if fields.get("Publish", bool) or fields.get("DryRun", bool):
        raise _invalid("pycontain serves $LATEST only: Publish and DryRun are not supported")
    data = Fields(code).get("ZipFile", str)
    if data is None:
        raise _invalid("Please provide a source for function code: ZipFile")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("Could not unzip uploaded file: ZipFile is not base64") from None
    if len(raw) > MAX_ZIP:
        raise ApiError("RequestEntityTooLargeException",
                       f"Zipped code must be smaller than {MAX_ZIP} bytes")
    return raw


class _Upload:
    """The uploaded zip as a path fn.registry.functions can read: a memfd's, so a
    server that dies mid-upload leaves no file behind."""

    def __init__(self, data: bytes):
        self.data = data

    def __enter__(self) -> str:
        self.fd = os.memfd_create("upload.zip", os.MFD_CLOEXEC)
        write_all(self.fd, self.data)
        self.path = f"/proc/self/fd/{self.fd}"
        return self.path

    def __exit__(self, kind, exc, _tb):
        os.close(self.fd)
        if isinstance(exc, PycontainError):  # name the upload, not the descriptor
            shown = "the uploaded zip file"
            raise PycontainError(str(exc).replace(f"zip file {self.path}", shown)
                                 .replace(self.path, shown), exc.code) from None


def configuration(config: dict) -> dict:
    """FunctionConfiguration, as Lambda shows it, of a stored config."""
    shown = {k: v for k, v in config.items() if k not in HIDDEN}
    name = config["FunctionName"]
    for key, value in (("Description", ""), ("State", "Active"),
                       ("LastUpdateStatus", "Successful"), ("PackageType", "Zip"),
                       ("Architectures", ["arm64" if platform.machine() == "aarch64"
                                          else "x86_64"]),
                       ("TracingConfig", {"Mode": "PassThrough"}),
                       ("EphemeralStorage", {"Size": 512}),
                       ("LoggingConfig", {"LogFormat": "Text",
                                          "LogGroup": f"/aws/lambda/{name}"})):
        shown.setdefault(key, value)
    return shown


def _concurrency(config: dict) -> dict:
    value = config.get("ReservedConcurrentExecutions")
    return {} if value is None else {"ReservedConcurrentExecutions": value}


class ControlApi:
    """The routes above; route() answers None for a path that is not one."""

    def __init__(self, max_concurrency: int):
        self.max_concurrency = max_concurrency
        self.events = EventsApi()

    @staticmethod
    def _operation(method: str, path: str) -> tuple:
        """(operation, function name argument or None); (None, None) if none."""
        parts = path.rstrip("/").split("/")
        if len(parts) < 3 or parts[0]:
            return None, None
        version, kind, rest = parts[1], parts[2], parts[3:]
        if (version, kind, rest, method) == ("2016-08-19", "account-settings", [], "GET"):
            return "GetAccountSettings", None
        if kind != "functions" or len(rest) > 2:
            return None, None
        name = unquote(rest[0]) if rest else None
        sub = rest[1] if len(rest) == 2 else ""
        table = {("2015-03-31", "", False): {"GET": "ListFunctions", "POST": "CreateFunction"},
                 ("2015-03-31", "", True): {"GET": "GetFunction", "DELETE": "DeleteFunction"},
                 ("2015-03-31", "configuration", True): {"GET": "GetFunctionConfiguration",
                                                         "PUT": "UpdateFunctionConfiguration"},
                 ("2015-03-31", "code", True): {"PUT": "UpdateFunctionCode"},
                 ("2017-10-31", "concurrency", True): {"PUT": "PutFunctionConcurrency",
                                                       "DELETE": "DeleteFunctionConcurrency"},
                 ("2019-09-30", "concurrency", True): {"GET": "GetFunctionConcurrency"}}
        return table.get((version, sub, name is not None), {}).get(method), name

    def body_limit(self, method: str, target: str):
        """For httpd: code uploads may be larger than other requests."""
        operation, _ = self._operation(method, urlsplit(target).path)
        limit = UPLOAD_LIMITS.get(operation)
        if limit is None:
            return None
        message = f"Request must be smaller than {limit} bytes for the {operation} operation"
        return limit, lambda: error_response("RequestEntityTooLargeException", message,
                                             new_request_id(), 413)

    def route(self, request, request_id: str):
        split = urlsplit(request.target)
        operation, name = self._operation(request.method, split.path)
        if operation is None:  # mappings, async settings: the triggers'
            answered = self.events.route(request)
            if answered is None:
                return None
            status, answer = answered
        else:
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            if name is not None:
                name = functions.parse_function_name(name, query.get("Qualifier"))
            body = parse_body(request.body) if request.method in ("POST", "PUT") else {}
            status, answer = getattr(self, "_" + operation)(name, Fields(body), query)
        data = b"" if answer is None else jsonio.dumps(answer, indent=None).encode()
        return (status, data)

    # -- the operations: (status, JSON answer or None) ---------------------------------
    def _CreateFunction(self, _name, fields: Fields, _query):  # noqa: N802 - Lambda's names
        name = functions.parse_function_name(fields.get("FunctionName", str, required=True))
        fields.get("Role", str, required=True)
        if fields.get("PackageType", str) not in (None, "Zip"):
            raise _invalid("pycontain runs Zip packages only (PackageType Zip)")
        settings = _settings(fields)
        if settings["runtime"] is None or settings["handler"] is None:
            raise _invalid("Runtime and Handler are mandatory parameters for functions "
                           "created with deployment packages.")
        code = _zip(fields, fields.get("Code", dict, required=True))
        with _Upload(code) as path:
            config = functions.create(
                name, path, settings["handler"], settings["timeout"] or 3,
                settings["memory"] or 128, settings["env"] or (), runtime=settings["runtime"],
                role=settings["role"], description=settings["description"] or "")
        return 201, configuration(config)

    def _ListFunctions(self, _name, _fields, query):  # noqa: N802
        text = query.get("MaxItems", str(PAGE))
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ITEMS):
            raise functions.validation_error(text[:16], "maxItems", "Member must have value "
                                             f"between 1 and {MAX_ITEMS}")
        limit = min(PAGE, int(text))
        marker = query.get("Marker", "")
        if marker and not set(marker) <= functions.NAME_CHARS:
            raise _invalid(f"Invalid marker: {marker[:64]}")
        found = functions.list_all(start_after=marker, limit=limit + 1)
        answer = {"Functions": [configuration(c) for c in found[:limit]]}
        if len(found) > limit:
            answer["NextMarker"] = found[limit - 1]["FunctionName"]
        return 200, answer

    def _GetFunction(self, name, _fields, _query):  # noqa: N802
        config = functions.get(name)
        answer = {"Configuration": configuration(config), "Code": {"RepositoryType": "S3"},
                  "Tags": {}}
        if _concurrency(config):
            answer["Concurrency"] = _concurrency(config)
        return 200, answer

    def _GetFunctionConfiguration(self, name, _fields, _query):  # noqa: N802
        return 200, configuration(functions.get(name))

    def _DeleteFunction(self, name, _fields, _query):  # noqa: N802
        functions.delete(name)
        return 204, None

    def _UpdateFunctionConfiguration(self, name, fields: Fields, _query):  # noqa: N802
        settings = _settings(fields)
        return 200, configuration(functions.update(
            name, revision_id=fields.get("RevisionId", str), **settings))

    def _UpdateFunctionCode(self, name, fields: Fields, _query):  # noqa: N802
        functions.get(name)  # not found before a bad zip, as Lambda
        with _Upload(_zip(fields, fields.body)) as path:
            config = functions.update(name, path, revision_id=fields.get("RevisionId", str))
        return 200, configuration(config)

    def _PutFunctionConcurrency(self, name, fields: Fields, _query):  # noqa: N802
        value = fields.number("ReservedConcurrentExecutions", 0, 2 ** 31 - 1, required=True)
        if value > self.max_concurrency:
            raise _invalid("Specified ReservedConcurrentExecutions for function is over the "
                           f"account's ConcurrentExecutions of {self.max_concurrency} "
                           "(fn serve --max-concurrency)")
        return 200, _concurrency(functions.update(name, concurrency=value))

    def _DeleteFunctionConcurrency(self, name, _fields, _query):  # noqa: N802
        functions.remove_concurrency(name)
        return 204, None

    def _GetFunctionConcurrency(self, name, _fields, _query):  # noqa: N802
        return 200, _concurrency(functions.get(name))

    def _GetAccountSettings(self, _name, _fields, _query):  # noqa: N802
        configs = functions.list_all()
        reserved = sum(c.get("ReservedConcurrentExecutions") or 0 for c in configs)
        return 200, {"AccountLimit": dict(STORAGE, ConcurrentExecutions=self.max_concurrency,
                                          UnreservedConcurrentExecutions=max(
                                              0, self.max_concurrency - reserved)),
                     "AccountUsage": {"TotalCodeSize": sum(c.get("CodeSize", 0)
                                                           for c in configs),
                                      "FunctionCount": len(configs)}}
