"""WhatsApp through Twilio: webhooks, sending, the 24-hour window, Twilio's error codes and HTTP client."""
