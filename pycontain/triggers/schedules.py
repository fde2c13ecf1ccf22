"""A schedule mapping: EventBridge's rule calling a function, asynchronously,
with the `Scheduled Event` event. rate(...) counts from the mapping's
creation; a tick missed while fn serve was down is not replayed (the next one
is the first after the server starts)."""
import datetime as dt

from pycontain import jsonio
from pycontain.triggers import cron
from pycontain.triggers import store
from pycontain.triggers.source import Source

UTC = dt.timezone.utc


def _moment(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, UTC)


class ScheduleSource(Source):
    def consume(self) -> None:
        rule = cron.parse(self.mapping["ScheduleExpression"])
        clock, arn = self.runner.clock, self.mapping["EventSourceArn"]
        start = _moment(self.mapping.get("CreatedAt", self.mapping["LastModified"]))
        moment = rule.next_after(_moment(clock.time()), start)
        while clock.sleep_until(moment.timestamp(), self.stop):
            event = cron.scheduled_event(arn, moment, store.ACCOUNT, store.REGION)
            self.runner.events.accept(self.name, jsonio.dumps(event, indent=None).encode(),
                                      source=arn)
            self.ok()
            self.count(Processed=1, Batches=1)
            moment = rule.next_after(moment, start)
