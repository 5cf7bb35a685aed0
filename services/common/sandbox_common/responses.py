"""A JSON response rendered with orjson, for the bodies we build by hand
(errors, readiness). Routes with a return type are serialized by FastAPI."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse as _StarletteJSONResponse


class JSONResponse(_StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
