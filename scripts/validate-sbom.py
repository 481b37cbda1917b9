#!/usr/bin/env python3
"""Validate CycloneDX 1.5 JSON SBOMs against the official schema, offline.

Usage: scripts/validate-sbom.py SBOM.json...

The schema (bom-1.5.schema.json and the two it references, spdx.schema.json
and jsf-0.82.schema.json) is vendored in scripts/schemas/cyclonedx-1.5/
(taken from the cyclonedx-python-lib package, Apache-2.0), so nothing is
fetched: the references resolve through a local registry keyed by each
schema's $id. Needs jsonschema >= 4.18 (PyPI; scripts/gates.sh tools).
Exit 0 when every file is valid, 1 otherwise (each error printed).
"""
import json
import pathlib
import sys

from jsonschema import Draft7Validator
from referencing import Registry, Resource

SCHEMAS = pathlib.Path(__file__).resolve().parent / "schemas" / "cyclonedx-1.5"


def validator():
    resources = []
    for name in ("bom-1.5.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"):
        doc = json.loads((SCHEMAS / name).read_text())
        resources.append((doc["$id"], Resource.from_contents(doc)))
    registry = Registry().with_resources(resources)
    bom = json.loads((SCHEMAS / "bom-1.5.schema.json").read_text())
    return Draft7Validator(bom, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    v = validator()
    bad = 0
    for p in paths:
        try:
            doc = json.loads(pathlib.Path(p).read_text())
        except (OSError, ValueError) as e:
            print(f"{p}: cannot read: {e}", file=sys.stderr)
            bad += 1
            continue
        errors = sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if doc.get("specVersion") != "1.5":
            print(f"{p}: specVersion is {doc.get('specVersion')!r}, not '1.5'", file=sys.stderr)
            bad += 1
        for e in errors[:20]:
            where = "/".join(str(x) for x in e.absolute_path) or "(top)"
            print(f"{p}: {where}: {e.message[:300]}", file=sys.stderr)
        if errors:
            bad += 1
        else:
            n = len(doc.get("components", []))
            print(f"{p}: valid CycloneDX 1.5 ({n} components)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
