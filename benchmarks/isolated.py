"""Run one benchmark case in a fresh interpreter so its peak memory (max RSS) is its own."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def run_case(script: str, *args: str) -> dict[str, Any]:
    """Run ``script --one ARGS`` in a new process and return the JSON object it prints."""
    out = subprocess.run(
        [sys.executable, script, "--one", *args], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result
