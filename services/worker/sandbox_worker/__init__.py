"""The Celery worker and beat that run the tasks of all three services."""
