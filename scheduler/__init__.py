"""When things run: APScheduler cron jobs whose bodies are channel-neutral handlers."""
