"""Who is who: onboarding and consent, roster import, unknown numbers."""
