"""What every feature stands on: message types, context, registry, roles, state, forms, outbox, catalogs, config."""
