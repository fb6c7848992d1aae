"""Channel-neutral use cases: each takes an inbound message or a clock tick and returns replies."""
