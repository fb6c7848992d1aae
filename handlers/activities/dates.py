"""The activities' dates: reading and showing them is shared by every feature, so it lives in the kernel."""

from handlers.kernel.dates import (
    format_clock,
    format_day,
    format_moment,
    format_range,
    format_span,
    format_time,
    month_label,
    month_of,
    parse_clock,
    parse_clock_range,
    parse_day,
    parse_moment,
    previous_month,
    zone_name,
)

__all__ = ["format_clock", "format_day", "format_moment", "format_range", "format_span", "format_time",
           "month_label", "month_of", "parse_clock", "parse_clock_range", "parse_day", "parse_moment",
           "previous_month", "zone_name"]
