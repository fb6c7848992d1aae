"""Every scheduled job: a fixed id, a cron tick, and a handler body (handlers stay free of apscheduler).

Each body checks the real state and records what it sent (SLA steps, ReminderLog, JobRun,
NudgeLog), so a frequent tick, a double run or a restart never repeats a message, and a run
missed while the process was down is caught up once. Bodies with a configured time of day
(nudges, the weekly digest) wait for it themselves and skip quiet hours.
"""

from handlers.activities import assignment_jobs, attendance_jobs, report_views
from handlers.broadcasts import report as broadcast_report
from handlers.consultation import questions, sla
from handlers.participation import nudges
from handlers.privacy import retention
from handlers.reports import digest, performance, summaries
from scheduler.jobs import job

job("answer_deadlines", minute="*/10")(sla.check_answer_deadlines)
job("pending_questions", minute="*/10")(questions.queue_pending_questions)
job("session_reminders", minute="*/5")(attendance_jobs.send_session_reminders)
job("checkin_close", minute="*/5")(attendance_jobs.close_checkin_windows)
job("tugas_reminders", minute="*/30")(assignment_jobs.send_tugas_reminders)
job("monthly_report_prompt", minute="*/30")(report_views.prompt_monthly_reports)
job("participation_nudges", minute="*/15")(nudges.run_nudge_ladder)
job("weekly_scores", minute="*/15")(digest.close_week)  # the week just ended, stored once
job("weekly_digest", minute="*/15")(digest.send_weekly_digests)
job("summary_requests", second="*/10")(summaries.answer_summary_requests)  # `ringkasan` asked in chat
job("mentor_performance", minute="*/15")(performance.send_monthly_performance)
job("retention", minute="*/30")(retention.run_retention)
job("broadcasts", minute="*")(broadcast_report.run_broadcasts)
