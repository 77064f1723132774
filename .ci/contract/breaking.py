#!/usr/bin/env python3
"""Breaking changes of the OpenAPI document against the previous committed one.

Usage: breaking.py NEW_DOCUMENT CHANGELOG [BASE_REV]

BASE_REV (default: $RENKEI_OPENAPI_BASE, else HEAD^, i.e. main's parent after a merge)
names the commit whose openapi/openapi.json is the previous document. A change is
breaking when it removes an operation, a schema or a field of a schema, makes a field
or a parameter newly required, or makes an operation's request body require a field it
did not. Each finding is one line, e.g. `removed field: GmoPgAccount.mode`; the check
passes only when CHANGELOG holds each such line verbatim (the release notes partners
read). Exit 1 on an unrecorded breaking change; 0 with a note when there is no previous
document (first commit, shallow clone).
"""

import json
import os
import subprocess
import sys

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def previous_document(rev, path="openapi/openapi.json"):
    try:
        text = subprocess.run(
            ["git", "show", f"{rev}:{path}"], check=True, capture_output=True, text=True
        ).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    return json.loads(text)


def operations(doc):
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield (method.upper(), path), item[method]


def resolve(doc, schema, depth=0):
    """The schema behind a $ref (and the union of an allOf's required/properties)."""
    if depth > 10 or not isinstance(schema, dict):
        return {}
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return resolve(doc, doc.get("components", {}).get("schemas", {}).get(name, {}), depth + 1)
    merged = {"required": list(schema.get("required", [])), "properties": dict(schema.get("properties", {}))}
    for part in schema.get("allOf", []):
        inner = resolve(doc, part, depth + 1)
        merged["required"] += inner.get("required", [])
        merged["properties"].update(inner.get("properties", {}))
    return merged


def body_required(doc, operation):
    content = (operation.get("requestBody") or {}).get("content", {})
    required = set()
    for media in content.values():
        required |= set(resolve(doc, media.get("schema", {})).get("required", []))
    return required


def required_parameters(operation):
    return {
        (p.get("in"), p.get("name"))
        for p in operation.get("parameters", [])
        if isinstance(p, dict) and p.get("required")
    }


def findings(old, new):
    found = []
    new_ops = dict(operations(new))
    for key, old_op in operations(old):
        method, path = key
        if key not in new_ops:
            found.append(f"removed operation: {method} {path}")
            continue
        new_op = new_ops[key]
        for place, name in sorted(required_parameters(new_op) - required_parameters(old_op)):
            found.append(f"new required parameter: {method} {path} {place} {name}")
        for name in sorted(body_required(new, new_op) - body_required(old, old_op)):
            found.append(f"new required field: {method} {path} body.{name}")
    written = request_schemas(new)
    old_schemas = old.get("components", {}).get("schemas", {})
    new_schemas = new.get("components", {}).get("schemas", {})
    for name, old_schema in old_schemas.items():
        if name not in new_schemas:
            found.append(f"removed schema: {name}")
            continue
        old_resolved, new_resolved = resolve(old, old_schema), resolve(new, new_schemas[name])
        for field in old_resolved["properties"]:
            if field not in new_resolved["properties"]:
                found.append(f"removed field: {name}.{field}")
        if name in written:
            for field in sorted(set(new_resolved["required"]) - set(old_resolved["required"])):
                found.append(f"new required field: {name}.{field}")
    return found


def request_schemas(doc):
    """Names of the component schemas that request bodies use, at any depth."""
    schemas = doc.get("components", {}).get("schemas", {})
    seen, stack = set(), []
    for _, operation in operations(doc):
        for media in (operation.get("requestBody") or {}).get("content", {}).values():
            stack.append(media.get("schema", {}))
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                name = ref.rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    stack.append(schemas.get(name, {}))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return seen


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    new_path, changelog_path = sys.argv[1], sys.argv[2]
    rev = sys.argv[3] if len(sys.argv) > 3 else os.environ.get("RENKEI_OPENAPI_BASE", "HEAD^")
    old = previous_document(rev)
    if old is None:
        print(f"no previous document at {rev}: nothing to compare")
        return 0
    with open(new_path, encoding="utf-8") as f:
        new = json.load(f)
    try:
        with open(changelog_path, encoding="utf-8") as f:
            changelog = f.read()
    except FileNotFoundError:
        changelog = ""
    breaking = findings(old, new)
    unrecorded = [line for line in breaking if line not in changelog]
    print(f"compared with {rev}: {len(breaking)} breaking change(s), {len(unrecorded)} not in {changelog_path}")
    for line in unrecorded:
        print(f"  {line}")
    if unrecorded:
        print(f"record each line above in {changelog_path} (what changed and what callers do about it)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
