"""The simulated people: anonymous browsers, shoppers with accounts, a few admins."""

from users.admin import Admin
from users.anonymous import AnonymousBrowser
from users.shopper import Shopper

__all__ = ["Admin", "AnonymousBrowser", "Shopper"]
