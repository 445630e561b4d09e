#!/usr/bin/env python3
"""test_openapi.py - openapi/openapi.yaml is the contract: it parses as OpenAPI 3.0, every $ref
resolves, every operation has responses and an operationId, error responses use problem+json,
and its paths and methods are exactly the route table of service/routes.c.

SPDX-License-Identifier: Apache-2.0
"""
import os
import re
import sys

try:
    import yaml
except ImportError:
    print("SKIP: python3-yaml is not installed")
    sys.exit(77)

src = os.environ.get("OBSFLOW_SOURCE_DIR", ".")
doc = yaml.safe_load(open(os.path.join(src, "openapi/openapi.yaml")))
errors = []
if not str(doc.get("openapi", "")).startswith("3.0"):
    errors.append("not an OpenAPI 3.0 document")


def walk(node, path):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                parts = v.lstrip("#/").split("/")
                cur = doc
                for p in parts:
                    if not isinstance(cur, dict) or p not in cur:
                        errors.append("%s: unresolved $ref %s" % (path, v))
                        break
                    cur = cur[p]
            else:
                walk(v, path + "/" + str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(v, "%s[%d]" % (path, i))


walk(doc, "")
ops = set()
ids = set()
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
for p, item in doc["paths"].items():
    for m, op in item.items():
        if m not in METHODS:
            continue  # path-level parameters
        ops.add((m.upper(), p))
        if "operationId" not in op:
            errors.append("%s %s: no operationId" % (m, p))
        elif op["operationId"] in ids:
            errors.append("duplicate operationId %s" % op["operationId"])
        ids.add(op.get("operationId"))
        if not op.get("responses"):
            errors.append("%s %s: no responses" % (m, p))
for name, r in doc["components"]["responses"].items():
    if name == "TorkeepError":
        if "text/plain" not in r.get("content", {}):
            errors.append("response TorkeepError is not text/plain")
        continue
    if "application/problem+json" not in r.get("content", {}):
        errors.append("response %s is not problem+json" % name)

# the problem codes are the error vocabulary of lib/core/err.h (problem_render sends err_code(e))
# plus the 405, 414 and 431 of service/http.c: a code the server can send must be in the enum
errh = open(os.path.join(src, "lib/core/err.h")).read()
codes = {n.lower() for n in re.findall(r"X\((\w+), \d+\)", errh)} - {"ok"}
codes |= {"method_not_allowed", "uri_too_long", "headers_too_large"}  # service/http.c
enum = set(doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"])
if len(codes) < 10:
    errors.append("could not read the error codes of lib/core/err.h")
for c in sorted(codes - enum):
    errors.append("problem code %s can be sent but is not in the Problem enum" % c)
for c in sorted(enum - codes):
    errors.append("the Problem enum lists %s, which no error maps to" % c)
# every job operation documents the server's own failures
for p, item in doc["paths"].items():
    for m, op in item.items():
        if m not in METHODS:
            continue
        if p.startswith("/v1/") and "default" not in op.get("responses", {}) \
                and "500" not in op.get("responses", {}):
            errors.append("%s %s: no default (5xx) response" % (m, p))

table = open(os.path.join(src, "service/routes.c")).read()
routes = set(re.findall(r'\.method = HTTP_([A-Z]+),\s*\.pattern = "([^"]+)"', table))
if not routes:
    errors.append("no routes parsed from service/routes.c")
for r in sorted(routes - ops):
    errors.append("route %s %s is not in openapi.yaml" % r)
for r in sorted(ops - routes):
    errors.append("openapi.yaml documents %s %s, which service/routes.c does not serve" % r)

for e in errors:
    print("FAIL: " + e)
print("PASS (%d operations)" % len(ops) if not errors else "FAILED")
sys.exit(1 if errors else 0)
