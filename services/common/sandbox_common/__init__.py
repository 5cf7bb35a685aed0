"""What every sandbox service does the same way: settings, logging, request
context, metrics, errors, authentication, health, the app and Celery factories."""

__version__ = "0.1.0"
