"""The names of the load test's request groups (no Locust import, so tools
that read the results can use them too)."""

from __future__ import annotations


class Route:
    """Names of the request groups, as they appear in reports, SLOs and metrics."""

    REGISTER = "/api/v1/auth/register"
    TOKEN = "/api/v1/auth/token"
    REFRESH = "/api/v1/auth/refresh"
    CATEGORIES = "/api/v1/categories"
    PRODUCTS = "/api/v1/products"
    PRODUCTS_BY_CATEGORY = "/api/v1/products?category="
    PRODUCTS_BY_PRICE = "/api/v1/products?min_price=&max_price="
    PRODUCTS_SEARCH = "/api/v1/products?q="
    PRODUCTS_NEXT_PAGE = "/api/v1/products?cursor="
    PRODUCT = "/api/v1/products/{product_id}"
    PRODUCT_LIKE = "/api/v1/products/{product_id}/like"
    EVENTS = "/api/v1/activity/events"
    MY_ACTIVITY = "/api/v1/activity/me"
    PRODUCT_STATS = "/api/v1/activity/products/{product_id}/stats"
    TRENDING = "/api/v1/activity/trending"
