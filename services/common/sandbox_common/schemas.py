"""Building blocks of the services' request bodies, chosen so that each
published OpenAPI schema says exactly what the validation accepts: data the
schema admits is taken, anything else is a 422.

Patterns are checked with pydantic's default engine, whose ``$`` ends the text
as JSON Schema's does. Character classes are spelled out rather than written
``\\s``, whose meaning differs between regex engines."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

# Unicode's White_Space characters: what "blank" means here, in every engine.
WHITE_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_WHITE_SPACE_ESCAPED = "".join(f"\\u{ord(c):04x}" for c in WHITE_SPACE)
# PostgreSQL's text cannot hold a NUL character, so no text we store has one.
NO_NUL = r"^[^\u0000]*$"
# No NUL, and somewhere one character that is not white space.
NOT_BLANK = rf"^[^\u0000]*[^\u0000{_WHITE_SPACE_ESCAPED}][^\u0000]*$"


def trim(value: str) -> str:
    return value.strip(WHITE_SPACE)


class RequestModel(BaseModel):
    """A request body: an unknown field is a 422, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


def json_number(value: object) -> object:
    """For ``BeforeValidator``: an integer as JSON Schema has it is a number
    without a fraction (3 and 3.0 alike), never "3" or true, which pydantic's
    lax mode would take."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number, not a string or a boolean")
    return value


# Free text of up to N characters.
Text200 = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]
Text320 = Annotated[str, StringConstraints(max_length=320, pattern=NO_NUL)]
Text5000 = Annotated[str, StringConstraints(max_length=5000, pattern=NO_NUL)]
# A name people type: 1 to N characters, not all white space, stored without
# the white space around it. (Lengths count what was sent.)
Name100 = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=NOT_BLANK), AfterValidator(trim)
]
Name200 = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK), AfterValidator(trim)
]
