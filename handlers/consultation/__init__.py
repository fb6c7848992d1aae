"""The consultation desk: questions, answers, queue, FAQ, escalation, answer deadlines, cover, rating."""
