"""The journal's exactly-once rules, its recovery of interrupted jobs and its ack outbox."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.agent.journal import MAYBE_PRINTED_REASON, Journal, Offer
from schema.messages.devices import PrintDirective

PRINTER = uuid.uuid4()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal.open(tmp_path / "state")
    yield j
    j.close()


def directive(data: bytes = b"hola\n", job_id: uuid.UUID | None = None) -> PrintDirective:
    return PrintDirective(device_id=PRINTER, job_id=job_id or uuid.uuid4(), kind="receipt", data=data)


def outbox(journal: Journal) -> list[tuple[uuid.UUID, str, str]]:
    return [(row.ack.job_id, row.ack.outcome, row.ack.reason) for row in journal.unconfirmed()]


def test_jobs_queue_in_arrival_order_and_a_repeat_is_never_queued_again(journal: Journal) -> None:
    first, second = directive(b"1"), directive(b"2")
    assert journal.offer(first) is Offer.QUEUED
    assert journal.offer(second) is Offer.QUEUED
    assert journal.offer(first) is Offer.IN_QUEUE
    assert [job.data for job in journal.pending(PRINTER)] == [b"1", b"2"]
    assert journal.pending_ids(uuid.uuid4()) == []
    assert outbox(journal) == []


def test_printing_goes_through_sending_and_queues_the_printed_ack(journal: Journal) -> None:
    d = directive()
    journal.offer(d)
    job = journal.next_pending(PRINTER)
    assert job is not None and job.job_id == d.job_id
    assert journal.mark_sending(d.job_id)
    assert not journal.mark_sending(d.job_id), "a job is claimed once"
    assert journal.next_pending(PRINTER) is None, "a job being sent is not pending"
    assert journal.offer(d) is Offer.IN_QUEUE
    journal.mark_printed(d.job_id)
    finished = journal.job(d.job_id)
    assert finished is not None and finished.state == "printed" and finished.data == b""
    assert outbox(journal) == [(d.job_id, "printed", "")]


def test_a_repeat_of_a_finished_job_queues_its_ack_again_and_never_the_job(journal: Journal) -> None:
    d = directive()
    journal.offer(d)
    journal.mark_sending(d.job_id)
    journal.mark_printed(d.job_id)
    (row,) = journal.unconfirmed()
    journal.confirm(row.seq)
    assert outbox(journal) == []
    assert journal.offer(d) is Offer.FINISHED
    assert journal.next_pending(PRINTER) is None
    assert outbox(journal) == [(d.job_id, "printed", "")]


def test_a_job_left_sending_is_failed_at_recovery_and_never_printed_again(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    interrupted, waiting = directive(b"A"), directive(b"B")
    journal.offer(interrupted)
    journal.offer(waiting)
    journal.mark_sending(interrupted.job_id)
    journal.close()  # the agent dies here: the job may or may not be on paper

    journal = Journal.open(tmp_path)
    recovered = journal.recover()
    assert [job.job_id for job in recovered] == [interrupted.job_id]
    job = journal.job(interrupted.job_id)
    assert job is not None and job.state == "failed" and job.reason == MAYBE_PRINTED_REASON
    assert outbox(journal) == [(interrupted.job_id, "failed", MAYBE_PRINTED_REASON)]
    assert [j.job_id for j in journal.pending(PRINTER)] == [waiting.job_id], "the next job still prints"
    assert journal.offer(interrupted) is Offer.FINISHED, "the hub sending it again does not print it"
    assert not journal.mark_sending(interrupted.job_id)
    assert journal.recover() == [], "recovery happens once"
    journal.close()


def test_unconfirmed_acks_survive_a_restart(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    d = directive()
    journal.offer(d)
    journal.mark_sending(d.job_id)
    journal.mark_printed(d.job_id)
    journal.close()
    journal = Journal.open(tmp_path)
    assert outbox(journal) == [(d.job_id, "printed", "")]
    journal.close()


def test_held_acks_are_replaced_by_the_final_one_and_a_late_reply_does_not_drop_it(journal: Journal) -> None:
    d = directive()
    journal.offer(d)
    assert journal.queue_held(PRINTER, [d.job_id], "sin papel") == [d.job_id]
    (held,) = journal.unconfirmed()
    assert held.ack.outcome == "held" and held.ack.reason == "sin papel"
    journal.mark_sending(d.job_id)
    assert journal.queue_held(PRINTER, [d.job_id], "tapa abierta") == [], "only pending jobs are held"
    journal.mark_printed(d.job_id)
    journal.confirm(held.seq)  # the hub's reply to the held ack arrives after the job printed
    assert outbox(journal) == [(d.job_id, "printed", "")]


def test_a_job_for_a_printer_not_here_is_recorded_failed(journal: Journal) -> None:
    d = directive()
    journal.queue_failed(d, "la impresora no está configurada en este agente")
    assert outbox(journal) == [(d.job_id, "failed", "la impresora no está configurada en este agente")]
    assert journal.offer(d) is Offer.FINISHED


def test_unsend_puts_a_job_back_at_its_place(journal: Journal) -> None:
    first, second = directive(b"1"), directive(b"2")
    journal.offer(first)
    journal.offer(second)
    journal.mark_sending(first.job_id)
    journal.unsend(first.job_id)
    assert [j.data for j in journal.pending(PRINTER)] == [b"1", b"2"]


def test_prune_forgets_old_or_surplus_finished_jobs_but_only_once_acked(journal: Journal) -> None:
    jobs = [directive(bytes([i])) for i in range(6)]
    for d in jobs:
        journal.offer(d)
        journal.mark_sending(d.job_id)
        journal.mark_printed(d.job_id)
    pending = directive(b"p")
    journal.offer(pending)
    assert journal.prune(keep_jobs=2) == 0, "nothing goes while the hub has not confirmed the acks"
    for row in journal.unconfirmed():
        if row.ack.job_id != jobs[0].job_id:
            journal.confirm(row.seq)
    # Keep the newest 2 of 7 rows: jobs 1..4 go; job 0 stays (unconfirmed ack), 5 and the pending stay.
    assert journal.prune(keep_jobs=2) == 4
    assert journal.job(jobs[0].job_id) is not None and journal.job(jobs[5].job_id) is not None
    assert journal.job(jobs[1].job_id) is None
    assert journal.offer(pending) is Offer.IN_QUEUE
    (row,) = journal.unconfirmed()
    journal.confirm(row.seq)
    assert journal.prune(now=time.time() + 8 * 24 * 3600) == 2, "old finished jobs go; the pending one stays"
    assert journal.counts() == {"pending": 1, "acks": 0}
