"""Factories of the catalog app for the bench, with observability on and off.

``observe=False`` skips the request metrics and per-request logging of the
shared middleware (request ids stay); everything else is the real service.
"""

from __future__ import annotations

from fastapi import FastAPI

from catalog_service.main import create_app


def catalog_observed() -> FastAPI:
    return create_app(observe=True)


def catalog_unobserved() -> FastAPI:
    return create_app(observe=False)
