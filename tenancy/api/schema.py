"""OpenAPI post-processing: every operation documents the error answers it can give."""

# An error body: DRF's `{"detail": "..."}`, or a field -> messages map for a 400.
ERROR = {
    "description": "",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "additionalProperties": True,
                "description": '{"detail": "..."} or, for a 400, each field with its messages.',
            }
        }
    },
}

ERRORS = {
    "400": "The request is invalid: the body names each field and what is wrong with it.",
    "401": "No valid credentials (a token or a session).",
    "403": "The caller's role may not do this.",
    "404": "No such object in the caller's utility.",
    "409": "The object cannot be deleted or changed while others refer to it.",
    "415": "The body's media type is not one this operation reads.",
}


# A time of day as DRF reads and writes it: local, with no UTC offset. JSON Schema's
# `format: time` demands an offset, which no answer carries.
TIME_OF_DAY = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


def _times_of_day(node) -> None:
    if isinstance(node, dict):
        if node.get("format") == "time":
            del node["format"]
            node["pattern"] = TIME_OF_DAY
        for value in node.values():
            _times_of_day(value)
    elif isinstance(node, list):
        for value in node:
            _times_of_day(value)


# DRF's CharField refuses a NUL character (PostgreSQL text cannot hold one) in every text it
# reads; a request's free-text strings say so, or a schema-valid request is refused.
NO_NUL = r"^[^\x00]*$"


def _text_without_nul(components: dict) -> None:
    for name, component in components.get("schemas", {}).items():
        if not name.endswith("Request"):
            continue
        for prop in component.get("properties", {}).values():
            free_text = prop.get("type") == "string" and not (
                {"enum", "format", "pattern", "readOnly"} & prop.keys()
            )
            if free_text:
                prop["pattern"] = NO_NUL


def document_error_responses(result, generator, request, public):
    """Add 400/401/403/404/409/415 where an operation can answer them, so a client (and the
    schemathesis run in the tests) finds every status code the API returns documented."""
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            codes = ["401", "403"] if operation.get("security", [{}]) != [{}] else []
            if method != "get" or operation.get("parameters") or "requestBody" in operation:
                codes.append("400")
            if "{" in path:
                codes.append("404")
            if method in {"delete", "put", "patch", "post"} and "{" in path:
                codes.append("409")
            if "requestBody" in operation:
                codes.append("415")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {**ERROR, "description": ERRORS[code]})
            for code, response in responses.items():
                if code.startswith("4") and "content" not in response:
                    response["content"] = ERROR["content"]
    _times_of_day(result.get("components", {}))
    _text_without_nul(result.get("components", {}))
    return result
