"""The weekly participation score and the nudge ladder."""
