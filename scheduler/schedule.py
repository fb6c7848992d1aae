"""Import every module that registers jobs (handlers stay free of apscheduler)."""

from handlers import questions, sla
from scheduler.jobs import job

job("answer_deadlines", minute="*/10")(sla.check_answer_deadlines)
job("pending_questions", minute="*/10")(questions.queue_pending_questions)

# Issue 5: the bodies decide when (Config.nudge_time, digest_weekday/digest_time), skip quiet hours
# and run once per period (JobRun), so a frequent tick catches a missed run up exactly once.
from handlers import digest, nudges  # noqa: E402

job("participation_nudges", minute="*/15")(nudges.run_nudge_ladder)
job("weekly_digest", minute="*/15")(digest.send_weekly_digests)

# Issue 4: programme activities. Each body checks the real state and logs what it sent
# (ReminderLog), so running it often, twice, or after a restart never repeats a message.
from handlers import assignment_jobs, attendance_jobs, report_views  # noqa: E402

job("session_reminders", minute="*/5")(attendance_jobs.send_session_reminders)
job("checkin_close", minute="*/5")(attendance_jobs.close_checkin_windows)
job("tugas_reminders", minute="*/30")(assignment_jobs.send_tugas_reminders)
job("monthly_report_prompt", minute="*/30")(report_views.prompt_monthly_reports)
