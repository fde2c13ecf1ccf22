"""fn serve's queue of ready spares (pycontain.fn.server.spares): calls get spares
first come, first served, a call gives up after its wait, and closing hands
waiting calls nothing. Real socket pairs stand for spares, real threads for calls."""
import socket
import threading

from pycontain.fn.server.spares import SpareQueue


def _spare(pid: int) -> tuple:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    theirs.close()
    return pid, ours


def _waiting(queue: SpareQueue, count: int) -> None:
    """Until count calls wait in queue (each queues itself under the lock)."""
    for _ in range(30000):
        with queue._lock:
            if len(queue._waiters) >= count:
                return
        threading.Event().wait(0.001)
    raise AssertionError(f"{count} calls never waited")


def test_spares_go_to_waiting_calls_in_the_order_they_came():
    queue, got, threads = SpareQueue(wait=30), {}, []
    for i in range(5):
        t = threading.Thread(target=lambda i=i: got.__setitem__(i, queue.take()))
        t.start()
        threads.append(t)
        _waiting(queue, i + 1)
    for pid in range(100, 105):
        queue.put(_spare(pid))
    for t in threads:
        t.join()
    assert [got[i][0] for i in range(5)] == [100, 101, 102, 103, 104]
    queue.close()


def test_a_call_that_finds_a_spare_takes_it_and_one_that_waits_too_long_gets_none():
    queue = SpareQueue(wait=0.01)
    queue.put(_spare(7))
    assert queue.take()[0] == 7
    assert queue.take() is None
    assert not queue._waiters  # the call that gave up left the queue
    assert SpareQueue(wait=0).take() is None  # --spares 0: no wait


def test_close_closes_the_spares_and_wakes_the_waiting_calls():
    queue, got = SpareQueue(wait=30), []
    kept = _spare(1)
    queue.put(kept)
    assert queue.take() is kept
    t = threading.Thread(target=lambda: got.append(queue.take()))
    t.start()
    _waiting(queue, 1)
    queue.close()
    t.join(30)
    assert got == [None]
    late = _spare(2)
    queue.put(late)  # a spare that comes after: closed, not kept
    assert late[1].fileno() == -1 and queue.take() is None
    kept[1].close()
