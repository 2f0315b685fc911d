"""Schemathesis hooks for gifchat's CI run (.ci/run loads this file through
SCHEMATHESIS_HOOKS).

Polls: a poll waits up to `timeout` seconds (0 to 60, 25 when absent) for
something to happen. Generated polls waiting that long would spend the
run's time budget asleep, so a *valid* `timeout` above 1, the absent one
(25) included, is lowered to 1. An invalid value passes through untouched,
so the server's refusal of it (400, 422) is still tested.

Empty forms: a form body is a set of fields, so whatever Schemathesis
generates for one that is not an object (a string, a list) goes out as
text, and the empty string as an empty body: the form without fields. Its
own check already asks whether a generated *object* is valid as sent; for
the rest, `filter_failure` asks the same of an empty body, so that a join
(whose form has no required field: a public room takes an empty join) is
not blamed for accepting the empty form. A form that requires a field
gets no such pass.

GIFs: the document says the upload's `gif` part is `image/gif`, but what
makes bytes a GIF (a header, a palette, LZW-coded frames that decode to
exactly their size) is beyond JSON Schema. This strategy makes whole GIFs of
random sizes, colours, pixels and frame counts, so that uploads the schema
calls valid are valid, and the server's acceptance of them is tested. Where
Schemathesis sends a sample file of another type (or an empty one) instead,
the server's 415 (422) is right, and `filter_failure` does not count it.
A part is text: a `client_id` generated as `true` to be refused is sent as
the valid client_id "true", and its acceptance is not counted either.
"""

import json
import re
import struct

import schemathesis
from schemathesis.core.failures import AcceptedNegativeData
from hypothesis import strategies as st

POLLS = {"room_poll", "room_poll_head", "lobby_poll", "lobby_poll_head"}
MAX_TIMEOUT = 60
FAST = 1


def whole_seconds(value):
    """The timeout the server reads from `value`, or None when it refuses
    it: a whole number from 0 to 60, as a number or as its digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        seconds = int(value)
    else:
        return None
    return seconds if 0 <= seconds <= MAX_TIMEOUT else None


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.definition.raw.get("operationId") not in POLLS:
        return
    query = case.query if case.query is not None else {}
    if "timeout" not in query:
        query["timeout"] = FAST
    else:
        seconds = whole_seconds(query["timeout"])
        if seconds is not None and seconds > FAST:
            query["timeout"] = FAST
    case.query = query


FORM = "application/x-www-form-urlencoded"


def resolve(root, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def takes_no_fields(root, schema):
    """Whether `schema` admits a form without fields: an object with no
    required property, or null, in any of its alternatives."""
    schema = resolve(root, schema)
    if not isinstance(schema, dict):
        return False
    alternatives = schema.get("oneOf", []) + schema.get("anyOf", [])
    if alternatives:
        return any(takes_no_fields(root, item) for item in alternatives)
    types = schema.get("type", "object")
    types = types if isinstance(types, list) else [types]
    return "null" in types or ("object" in types and not schema.get("required"))


def not_a_gif(case, response):
    """Whether `case` is an upload whose `gif` part is not GIF bytes (made
    by Schemathesis itself, not by `gifs()` below: for a binary part it
    sometimes sends a sample file of another type, or nothing) and the
    server said so (415 for another type, 422 for an empty file). JSON
    Schema cannot tell a GIF from a PDF; the server must."""
    if case.operation.definition.raw.get("operationId") not in UPLOADS:
        return False
    body = case.body if isinstance(case.body, dict) else {}
    gif = body.get("gif")
    if isinstance(gif, str):
        gif = gif.encode("latin-1", "replace")
    is_gif = isinstance(gif, (bytes, bytearray)) and gif[:6] in (b"GIF87a", b"GIF89a")
    return response.status_code in (415, 422) and not is_gif


CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# The operations that take a GIF upload: a room's, and a bot's.
UPLOADS = {"post_gif", "bot_gif"}


def as_multipart_text(value):
    """A value as a multipart part carries it: text (JSON for what is not
    a string)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    return value if isinstance(value, str) else json.dumps(value)


def client_id_as_text_is_valid(case):
    """Whether an upload's `client_id`, generated as another type to be
    refused, is a valid one once written into its part: a multipart part
    is text, and `true` or `42` there is the valid `client_id` "true" or
    "42"."""
    if case.operation.definition.raw.get("operationId") not in UPLOADS:
        return False
    body = case.body if isinstance(case.body, dict) else {}
    return "client_id" in body and bool(CLIENT_ID.match(as_multipart_text(body["client_id"])))


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if not_a_gif(case, response):
        return False
    if isinstance(failure, AcceptedNegativeData) and client_id_as_text_is_valid(case):
        return False
    if not isinstance(failure, AcceptedNegativeData) or case.media_type != FORM:
        return True
    sent = response.request.body
    if sent not in (None, b"", ""):
        return True
    root = case.operation.schema.raw_schema
    body = case.operation.definition.raw.get("requestBody", {})
    schema = body.get("content", {}).get(FORM, {}).get("schema")
    return not takes_no_fields(root, schema)


def lzw_frame(pixels):
    """A frame's pixels (indices 0-3) as GIF LZW data with a minimum code
    size of 2, written the simplest valid way: a clear code before every
    two pixels keeps the code table, and so the code width (3 bits), from
    ever growing."""
    clear, end = 4, 5
    codes = []
    for i in range(0, len(pixels), 2):
        codes.append(clear)
        codes.extend(pixels[i : i + 2])
    codes.append(end)
    bits = 0
    count = 0
    out = bytearray()
    for code in codes:
        bits |= code << count
        count += 3
        while count >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            count -= 8
    if count:
        out.append(bits & 0xFF)
    blocks = bytearray([2])
    for i in range(0, len(out), 255):
        chunk = out[i : i + 255]
        blocks.append(len(chunk))
        blocks.extend(chunk)
    blocks.append(0)
    return bytes(blocks)


@st.composite
def gifs(draw):
    version = draw(st.sampled_from([b"GIF87a", b"GIF89a"]))
    width = draw(st.integers(1, 12))
    height = draw(st.integers(1, 12))
    frames = draw(st.integers(1, 3)) if version == b"GIF89a" else 1
    palette = draw(st.binary(min_size=12, max_size=12))
    # A global table of 4 colours (size field 1), 2 bits of colour depth.
    gif = bytearray(version)
    gif += struct.pack("<HHBBB", width, height, 0x91, 0, 0)
    gif += palette
    for _ in range(frames):
        if version == b"GIF89a":
            delay = draw(st.integers(0, 100))
            gif += b"\x21\xf9\x04\x00" + struct.pack("<H", delay) + b"\x00\x00"
        gif += b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
        pixels = draw(st.lists(st.integers(0, 3), min_size=width * height, max_size=width * height))
        gif += lzw_frame(pixels)
    gif += b"\x3b"
    return bytes(gif)


schemathesis.openapi.media_type("image/gif", gifs())
