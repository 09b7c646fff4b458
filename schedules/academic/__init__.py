"""The academic side: calendar, plan, individual schedules (§13), iCalendar, session lifecycle rules."""
