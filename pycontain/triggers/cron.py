"""EventBridge schedule expressions: `rate(N unit)` and six-field `cron(...)`.

    cron(Minutes Hours Day-of-month Month Day-of-week Year), in UTC
    minutes 0-59, hours 0-23: , - * /
    day-of-month 1-31: , - * ? / L W (L: last day; 3W: weekday nearest the 3rd;
                       LW: last weekday)
    month 1-12 or JAN-DEC: , - * /
    day-of-week 1-7 or SUN-SAT (1 = Sunday): , - * ? L # (6L: last Friday;
                       3#2: second Tuesday; one # expression only)
    year 1970-2199: , - * /

One of day-of-month and day-of-week must be `?`. `Schedule.next_after(t)`
is the first firing strictly after t (a datetime in UTC, seconds ignored);
a schedule's missed ticks are not replayed (the caller asks from now).
"""
import calendar
import datetime as dt
import re

from pycontain.errors import PycontainError

MAX_EXPRESSION = 256
_MONTHS = {m: i for i, m in enumerate(
    "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split(), start=1)}
_RATE = re.compile(r"rate\((\d{1,6}) (minute|minutes|hour|hours|day|days)\)\Z")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
_ITEM = re.compile(r"(\*|\d{1,4}|[A-Z]{3})(?:-(\d{1,4}|[A-Z]{3}))?(?:/(\d{1,4}))?\Z")


def _invalid(expression: str, why: str) -> PycontainError:
    return PycontainError(f"ValidationException: Parameter ScheduleExpression is not valid "
                          f"({why}): {expression}")


def parse(expression: str):
    """A RateSchedule or CronSchedule, or PycontainError naming the problem."""
    if not isinstance(expression, str) or len(expression) > MAX_EXPRESSION:
        raise _invalid(str(expression)[:MAX_EXPRESSION], "too long")
    match = _RATE.match(expression)
    if match:
        value, unit = int(match[1]), match[2]
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise _invalid(expression, "use a singular unit for 1 and a plural one otherwise")
        return RateSchedule(value * _UNIT_MINUTES[unit.rstrip("s")])
    if expression.startswith("cron(") and expression.endswith(")"):
        return CronSchedule(expression)
    raise _invalid(expression, "expected rate(...) or cron(...)")


class RateSchedule:
    """Every `minutes` minutes, counted from when the schedule was created."""

    def __init__(self, minutes: int):
        self.minutes = minutes

    def next_after(self, when: dt.datetime, start: dt.datetime) -> dt.datetime:
        step = dt.timedelta(minutes=self.minutes)
        periods = max(0, (when - start) // step) + 1
        return start + periods * step


class CronSchedule:
    def __init__(self, expression: str):
        self.expression = expression
        fields = expression[len("cron("):-1].upper().split()
        if len(fields) != 6:
            raise _invalid(expression, "cron needs 6 fields")
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise _invalid(expression, "one of day-of-month and day-of-week must be '?'")
        self.minutes = _values(expression, minute, 0, 59)
        self.hours = _values(expression, hour, 0, 23)
        self.months = _values(expression, month, 1, 12, _MONTHS)
        self.years = _values(expression, year, 1970, 2199)
        self.day_rule = (_day_of_month_rule(expression, dom) if dow == "?"
                         else _day_of_week_rule(expression, dow))

    def days(self, year: int, month: int) -> list:
        """The days of that month on which the schedule fires, ascending."""
        return sorted(d for d in self.day_rule(year, month) if 1 <= d <= _length(year, month))

    def next_after(self, when: dt.datetime, start: dt.datetime | None = None) -> dt.datetime:
        """The first firing after `when` (the minute after it at the earliest)."""
        after = when.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        for year in (y for y in self.years if y >= after.year):
            for month in (m for m in self.months if (year, m) >= (after.year, after.month)):
                for day in self.days(year, month):
                    if (year, month, day) < (after.year, after.month, after.day):
                        continue
                    for hour in self.hours:
                        for minute in self.minutes:
                            moment = dt.datetime(year, month, day, hour, minute,
                                                 tzinfo=after.tzinfo)
                            if moment >= after:
                                return moment
        raise _invalid(self.expression, "it never fires again")


def _length(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _number(expression, text, low, high, names) -> int:
    value = names.get(text) if names and text.isalpha() else (int(text) if text.isdigit()
                                                              else None)
    if value is None or not low <= value <= high:
        raise _invalid(expression, f"{text!r} is not in {low}-{high}")
    return value


def _values(expression, field, low, high, names=None) -> list:
    """The sorted values a list of `*`, `N`, `A-B`, with optional `/STEP`, names."""
    found = set()
    for item in field.split(","):
        match = _ITEM.match(item)
        if not match:
            raise _invalid(expression, f"bad field item {item!r}")
        first, last, step = match[1], match[2], match[3]
        if first == "*":
            if last:
                raise _invalid(expression, f"bad range {item!r}")
            start, end = low, high
        else:
            start = _number(expression, first, low, high, names)
            end = _number(expression, last, low, high, names) if last else (
                high if step else start)
        step_n = int(step) if step else 1
        if step_n < 1 or end < start:
            raise _invalid(expression, f"bad range {item!r}")
        found.update(range(start, end + 1, step_n))
    return sorted(found)


def _weekday_nearest(year: int, month: int, day: int) -> int:
    """The weekday (Mon-Fri) nearest day, never crossing into another month."""
    length = _length(year, month)
    day = min(day, length)
    weekday = calendar.weekday(year, month, day)  # Monday = 0
    if weekday == 5:  # Saturday: Friday, or Monday when the 1st is a Saturday
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: Monday, or Friday when it is the month's last day
        return day + 1 if day < length else day - 2
    return day


def _day_of_month_rule(expression, field):
    if field == "L":
        return lambda y, m: [_length(y, m)]
    if field == "LW":
        return lambda y, m: [_weekday_nearest(y, m, _length(y, m))]
    if field.endswith("W"):
        day = _number(expression, field[:-1], 1, 31, None)
        return lambda y, m: [_weekday_nearest(y, m, day)] if day <= _length(y, m) else []
    days = _values(expression, field, 1, 31)
    return lambda y, m: days


def _iso_weekday(aws_day: int) -> int:
    """EventBridge's 1 = Sunday .. 7 = Saturday to calendar's Monday = 0."""
    return (aws_day + 5) % 7


def _day_of_week_rule(expression, field):
    if "#" in field:
        day_text, _, nth_text = field.partition("#")
        day = _iso_weekday(_number(expression, day_text, 1, 7, _DAYS))
        nth = _number(expression, nth_text, 1, 5, None)

        def nth_weekday(y, m):
            first = (day - calendar.weekday(y, m, 1)) % 7 + 1
            return [first + 7 * (nth - 1)]
        return nth_weekday
    if field == "L" or field.endswith("L"):
        day = _iso_weekday(_number(expression, field[:-1], 1, 7, _DAYS) if field != "L" else 7)

        def last_weekday(y, m):
            length = _length(y, m)
            return [length - (calendar.weekday(y, m, length) - day) % 7]
        return last_weekday
    weekdays = {_iso_weekday(d) for d in _values(expression, field, 1, 7, _DAYS)}
    return lambda y, m: [d for d in range(1, _length(y, m) + 1)
                         if calendar.weekday(y, m, d) in weekdays]


def scheduled_event(rule_arn: str, moment: dt.datetime, account: str, region: str) -> dict:
    """The event EventBridge sends a function for one firing of a rule."""
    import uuid
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": account,
            "time": moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region, "resources": [rule_arn], "detail": {}}
