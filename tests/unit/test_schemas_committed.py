"""The JSON Schemas under schemas/ are generated from model/; they must not drift."""

import json
from pathlib import Path

from arbflow.model.schema import topic_schemas

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_committed_schemas_equal_the_generated_ones() -> None:
    generated = topic_schemas()
    on_disk = {p.name.removesuffix(".schema.json").replace("TOPIC", "<topic>"): json.loads(p.read_text())
               for p in SCHEMAS.glob("*.schema.json")}
    assert on_disk == generated, "run `arbflow schema --out schemas` and commit the result"
