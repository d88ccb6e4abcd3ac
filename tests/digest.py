"""A stable digest of every row of every split; no test-framework imports, so any environment can use it."""

import hashlib
import json


def rows_digest(dataset_dict) -> str:
    digest = hashlib.sha256()
    for split in sorted(dataset_dict):
        for row in dataset_dict[split]:
            digest.update(json.dumps(row, sort_keys=True).encode())
    return digest.hexdigest()
