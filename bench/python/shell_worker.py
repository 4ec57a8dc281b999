"""The other end of python-shell in JSON mode: one JSON request per stdin line,
``{"fn": name, "args": [...]}``, answered by one JSON line ``{"ok": result}`` or ``{"error": text}``,
calling functions.py. This is how python-shell users write their scripts."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import functions  # noqa: E402


def main() -> None:
    print(json.dumps({"ok": "ready"}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = {"ok": getattr(functions, request["fn"])(*request["args"])}
        except Exception as exc:  # reported to the caller; the loop keeps serving
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
