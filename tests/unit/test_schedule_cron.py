"""EventBridge schedule expressions, against a simulated clock."""
import datetime as dt

import pytest

from pycontain.errors import PycontainError
from pycontain.triggers import cron

UTC = dt.timezone.utc


def at(*parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def firings(expression, start, end) -> list:
    rule, found, now = cron.parse(expression), [], start
    while True:
        now = rule.next_after(now, start)
        if now > end:
            return found
        found.append(now)


def test_rate_fires_every_period_from_its_start():
    start = at(2026, 12, 4, 10, 0, 30)
    assert firings("rate(1 minute)", start, start + dt.timedelta(minutes=3)) == [
        start + dt.timedelta(minutes=n) for n in (1, 2, 3)]
    assert cron.parse("rate(2 hours)").next_after(at(2026, 1, 1, 5, 0), at(2026, 1, 1)) \
        == at(2026, 1, 1, 6, 0)


@pytest.mark.parametrize("expression,first", [
    ("cron(0 10 * * ? *)", at(2026, 12, 5, 10, 0)),          # every day at 10:00
    ("cron(15 12 * * ? *)", at(2026, 12, 4, 12, 15)),
    ("cron(0 18 ? * MON-FRI *)", at(2026, 12, 4, 18, 0)),    # 2026-12-04 is a Friday
    ("cron(0 8 1 * ? *)", at(2027, 1, 1, 8, 0)),
    ("cron(0/15 * * * ? *)", at(2026, 12, 4, 11, 0)),
    ("cron(0 0 L * ? *)", at(2026, 12, 31, 0, 0)),            # last day of the month
    ("cron(0 0 ? * 6L *)", at(2026, 12, 25, 0, 0)),           # last Friday
    ("cron(0 0 ? * 3#2 *)", at(2026, 12, 8, 0, 0)),           # second Tuesday
    ("cron(0 0 ? * TUE#2 *)", at(2026, 12, 8, 0, 0)),
    ("cron(0 0 5W * ? *)", at(2027, 1, 5, 0, 0)),             # Tuesday already
    ("cron(0 0 LW * ? *)", at(2026, 12, 31, 0, 0)),           # Thursday
    ("cron(0 0 1 JAN,JUL ? 2030)", at(2030, 1, 1, 0, 0)),
])
def test_cron_first_firing(expression, first):
    assert cron.parse(expression).next_after(at(2026, 12, 4, 10, 50)) == first


def test_cron_with_l_and_hash_over_a_simulated_month():
    """Every firing of "last day" and "first Monday", January to March 2027."""
    assert firings("cron(30 23 L * ? *)", at(2027, 1, 15), at(2027, 4, 1)) == [
        at(2027, 1, 31, 23, 30), at(2027, 2, 28, 23, 30), at(2027, 3, 31, 23, 30)]
    assert firings("cron(0 9 ? * 2#1 *)", at(2027, 1, 1), at(2027, 3, 31)) == [
        at(2027, 1, 4, 9), at(2027, 2, 1, 9), at(2027, 3, 1, 9)]


def test_weekday_nearest_stays_in_its_month():
    # 2027-05-01 is a Saturday: 1W is Monday the 3rd, not Friday April 30th
    assert cron.parse("cron(0 0 1W * ? *)").next_after(at(2027, 4, 15)) == at(2027, 5, 3)
    # 2027-10-31 is a Sunday: LW is Friday the 29th
    assert cron.parse("cron(0 0 LW * ? *)").next_after(at(2027, 10, 15)) == at(2027, 10, 29)


@pytest.mark.parametrize("expression", [
    "cron(0 10 * * * *)",          # both day fields set
    "cron(0 10 ? * ? *)",          # neither
    "cron(0 10 * * ?)",            # five fields
    "cron(60 10 * * ? *)",
    "cron(0 24 * * ? *)",
    "cron(0 0 ? * 8 *)",
    "cron(0 0 ? * 3#6 *)",
    "cron(0 0 ? * FOO *)",
    "cron(0 0 32 * ? *)",
    "cron(0 0 * 13 ? *)",
    "cron(0 0 * * ? 2200)",
    "cron(5-1 0 * * ? *)",
    "rate(0 minutes)",
    "rate(1 minutes)",
    "rate(5 minute)",
    "rate(5 weeks)",
    "every day",
    "cron(" + "1," * 200 + "1 0 * * ? *)",
])
def test_invalid_expressions_are_refused(expression):
    with pytest.raises(PycontainError, match="ScheduleExpression is not valid"):
        cron.parse(expression)


def test_a_schedule_that_never_fires_again_says_so():
    with pytest.raises(PycontainError, match="never fires again"):
        cron.parse("cron(0 0 30 2 ? *)").next_after(at(2026, 1, 1))


def test_scheduled_event_shape():
    arn = "arn:aws:events:us-east-1:000000000000:rule/nightly"
    event = cron.scheduled_event(arn, at(2026, 12, 4, 3, 0), "000000000000", "us-east-1")
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time",
                          "region", "resources", "detail"}
    assert (event["detail-type"], event["source"], event["time"], event["resources"],
            event["detail"]) == ("Scheduled Event", "aws.events", "2026-12-04T03:00:00Z",
                                 [arn], {})
