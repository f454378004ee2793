"""Write the API's OpenAPI document: ``python -m workers.api.openapi [FILE]`` (standard output without FILE).

The workspace's typed client (``workers/api/web/src/api/schema.d.ts``) is generated from it; ``make
lint`` regenerates both and fails when the committed types differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def document() -> dict[str, object]:
    from workers.api.app import create_app
    from workers.settings import Settings

    return create_app(Settings()).openapi()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    text = json.dumps(document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if args:
        Path(args[0]).parent.mkdir(parents=True, exist_ok=True)
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
