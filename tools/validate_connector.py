"""Validates a connector package against Microsoft's JSON Schemas.

Usage: validate_connector.py SCHEMA_DIR apiDefinition.swagger.json apiProperties.json
SCHEMA_DIR holds Microsoft's schemas: crates/powerplatform-connector/tests/fixtures.
Prints each schema violation and exits 1 when there is any.
"""
import json
import sys

import jsonschema


def load(path):
    with open(path, encoding="utf-8-sig") as f:
        return json.load(f)


def main():
    schema_dir, definition, properties = sys.argv[1:4]
    checks = [
        (jsonschema.Draft4Validator, "apiDefinition.swagger.schema.json", definition),
        (jsonschema.Draft7Validator, "paconn-apiProperties.schema.json", properties),
    ]
    failures = 0
    for validator, schema, document in checks:
        errors = list(validator(load(f"{schema_dir}/{schema}")).iter_errors(load(document)))
        for error in errors:
            location = "/".join(str(p) for p in error.absolute_path)
            print(f"{document}: /{location}: {error.message}")
        print(f"{document}: {len(errors)} violations of {schema}")
        failures += len(errors)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
