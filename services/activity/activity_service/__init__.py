"""The activity service: events, feeds, product stats and trending (MongoDB)."""
