"""Broadcasts (siaran): announcements from a coordinator or a mentor to a group of participants."""
