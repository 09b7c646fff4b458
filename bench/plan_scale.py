"""Planner at university scale: one academic year, 30,000 students, 2,000 tutors, 6,000 offerings.

    .venv/bin/python bench/plan_scale.py [--groups 1000] [--seed 1]
    .venv/bin/python bench/plan_scale.py --against main [--rounds 2]   # this tree ÷ that revision

Prints the full plan time and the process's peak memory, the re-plan time after
moving one holiday and one tutor's availability (and after no change at all),
and the time to render one person's iCal feed. Goals from the foundation issue:
full plan ≤ 10 s and ≤ 1 GiB, re-plan ≤ 2 s, one feed ≤ 50 ms. CPU seconds are
printed beside wall seconds because the machine is shared.

``--against REV`` runs the same measurement on this tree and on git revision
REV's ``schedules/`` (and ``fileio/``) in alternating child processes, the same
inputs and machine, and prints each CPU figure of both with their ratio.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import random
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime
from datetime import time as clock
from pathlib import Path

from schedules.academic.calendar import load_calendar
from schedules.academic.ical import event_from_session, render_calendar
from schedules.academic.model import (
    Availability,
    ConsultationRule,
    ControlActivity,
    ControlResult,
    DefenseRule,
    Group,
    Offering,
    Person,
    PlannedSession,
    PlanResult,
)
from schedules.academic.planner import Planner, diff, plan

ROOT = Path(__file__).resolve().parents[1]
CALENDAR = ROOT / "examples" / "calendar-kz-2026-2027.yaml"
ABROAD = [("Europe/Berlin", 8, 20), ("America/New_York", 7, 23), ("Asia/Tokyo", 9, 23), ("Europe/Moscow", 9, 21)]


def generate(groups_n: int, seed: int) -> tuple[list[Offering], list[Person], list[Group], list[ControlResult]]:
    rng = random.Random(seed)
    tutors_n = groups_n * 2
    groups = [Group(f"G{g:04d}", f"Group {g}", tuple(f"s{g:04d}-{i:02d}" for i in range(30))) for g in range(groups_n)]
    people: list[Person] = []
    for g in groups:
        for sid in g.student_ids:
            if rng.random() < 0.03:  # students abroad (§10) with their own waking hours
                tz, a, b = rng.choice(ABROAD)
                people.append(Person(sid, tz=tz, available=Availability(clock(a), clock(b))))
    for t in range(tutors_n):
        if rng.random() < 0.05:
            people.append(Person(f"t{t:04d}", tz="Asia/Almaty", available=Availability(clock(13), clock(20))))
    offerings: list[Offering] = []
    results: list[ControlResult] = []
    hours = [None, (clock(10), clock(13)), (clock(14), clock(18))]
    for gi, g in enumerate(groups):
        for k in range(6):
            j = gi * 6 + k
            period = "autumn" if k < 3 else "spring"
            tutor = f"t{j % tutors_n:04d}"
            rule = ConsultationRule(
                per_week=1 + (j % 2),
                minutes=90,
                weekdays=tuple(sorted(rng.sample(range(6), rng.choice([1, 2])))),
                hours=rng.choice(hours),
            )
            controls = (
                ControlActivity("mid", "Midterm control", 60, window_id=f"{period}-midterm"),
                ControlActivity("final", "Final control", 60, week=14),
                ControlActivity("essay", "Essay"),
            )
            defense = None
            if k in (0, 3):
                committee = (tutor, f"t{(j + 7) % tutors_n:04d}", f"t{(j + 13) % tutors_n:04d}")
                defense = DefenseRule(f"{period}-coursework", 20, committee, max_per_day=12)
            o = Offering(f"off-{j:05d}", f"Discipline {j}", g.id, period, tutor, consultation=rule, controls=controls, defense=defense)  # fmt: skip
            offerings.append(o)
            if defense is not None:
                for sid in g.student_ids:
                    fails = rng.random() < 0.07
                    for act in controls:
                        results.append(ControlResult(sid, o.id, act.id, not (fails and act.id == "essay")))
    return offerings, people, groups, results


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - w0, time.process_time() - c0


def person_index(result: PlanResult, groups: list[Group]) -> dict[str, list[PlannedSession]]:
    """What the store's per-person query returns, built once (the feed request then reads one entry)."""
    members = {g.id: g.student_ids for g in groups}
    index: dict[str, list[PlannedSession]] = defaultdict(list)
    gc.disable()  # millions of list appends; nothing here makes cycles
    try:
        for s in result.sessions:
            for pid in s.person_ids():
                index[pid].append(s)
            if s.group_id:
                for pid in members[s.group_id]:
                    index[pid].append(s)
    finally:
        gc.enable()
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000, help="study groups of 30 (1000 → 30,000 students)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--against", metavar="REV", help="also measure git revision REV's planner; print ratios")
    parser.add_argument("--rounds", type=int, default=2, help="with --against: runs of each, alternating")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one line of figures, for --against
    args = parser.parse_args()
    if args.against:
        compare(args.against, args.rounds, args.groups, args.seed)
        return
    figures = measure(args)
    if args.json:
        print("FIGURES " + json.dumps(figures))


def compare(rev: str, rounds: int, groups: int, seed: int) -> None:
    """This tree's figures beside REV's, child processes alternating (ABAB...), best of each."""
    with tempfile.TemporaryDirectory(prefix="plan-ref-") as ref:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "schedules", "fileio"],
                                 capture_output=True)  # fmt: skip
        if archive.returncode != 0:  # a revision from before fileio/
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "schedules"],
                                     capture_output=True, check=True)  # fmt: skip
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(ref, filter="data")
        best: dict[str, dict[str, float]] = {"this tree": {}, rev: {}}
        for n in range(rounds):
            for label, path in (("this tree", None), (rev, ref)):
                env = dict(os.environ)
                if path is not None:
                    env["PYTHONPATH"] = path  # found before the editable install's finder
                cmd = [sys.executable, __file__, "--json", "--groups", str(groups), "--seed", str(seed)]
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
                line = next(x for x in out.splitlines() if x.startswith("FIGURES "))
                figures = json.loads(line.removeprefix("FIGURES "))
                code = next(x for x in out.splitlines() if x.startswith("planner code: "))
                print(f"round {n + 1}, {label} ({code}): " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()),
                      flush=True)  # fmt: skip
                for k, v in figures.items():
                    best[label][k] = min(v, best[label].get(k, v))
    print(f"\nbest of {rounds} runs each, CPU seconds (peak RSS in MiB); ratio = this tree ÷ {rev}")
    print(f"{'figure':<28} {'this tree':>10} {rev:>10} {'ratio':>7}")
    for k, mine in best["this tree"].items():
        theirs = best[rev][k]
        print(f"{k:<28} {mine:>10.3f} {theirs:>10.3f} {mine / theirs if theirs else float('nan'):>7.3f}")


def measure(args: argparse.Namespace) -> dict[str, float]:
    figures: dict[str, float] = {}
    print(f"planner code: {Path(plan.__code__.co_filename).parent}")

    cal = load_calendar(CALENDAR)
    (offerings, people, groups, results), gen_s, _ = timed(lambda: generate(args.groups, args.seed))
    students = sum(len(g.student_ids) for g in groups)
    tutors = len({o.tutor_id for o in offerings})
    rss0 = peak_rss_mib()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"inputs: {students} students, {tutors} tutors, {len(groups)} groups, {len(offerings)} offerings, "
          f"{len(results)} control results (generated in {gen_s:.1f} s, peak RSS so far {rss0:.0f} MiB)")  # fmt: skip

    full, wall, cpu = timed(lambda: plan(cal, offerings, people, groups, results))
    figures["full plan"] = cpu
    kinds: dict[str, int] = defaultdict(int)
    for s in full.sessions:
        kinds[s.kind.value] += 1
    print(f"full plan: {wall:.2f} s wall, {cpu:.2f} s CPU; {len(full.sessions)} sessions "
          f"({', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))}), {len(full.unplaced)} unplaced, "
          f"{len(full.ineligible)} ineligible (§29); peak RSS {peak_rss_mib():.0f} MiB")  # fmt: skip
    for u in full.unplaced[:3]:
        print(f"  unplaced e.g. {u.key}: {u.reason}")

    same, wall, cpu = timed(lambda: plan(cal, offerings, people, groups, results, previous=full))
    figures["re-plan, nothing changed"] = cpu
    print(f"re-plan, nothing changed: {wall:.2f} s wall, {cpu:.2f} s CPU; identical: {same == full}")

    # Move one holiday (Republic Day's moved day off, 26 Oct → 2 Nov) and narrow one busy tutor's hours.
    holidays = tuple(
        replace(h, start=date(2026, 11, 2), end=date(2026, 11, 2)) if h.start == date(2026, 10, 26) else h
        for h in cal.holidays
    )
    moved_cal = replace(cal, holidays=holidays)
    tutor = offerings[0].tutor_id
    moved_people = [p for p in people if p.id != tutor] + [Person(tutor, tz="Asia/Almaty", available=Availability(clock(15), clock(19)))]  # fmt: skip
    again, wall, cpu = timed(lambda: plan(moved_cal, offerings, moved_people, groups, results, previous=full))
    figures["plan(previous=) after change"] = cpu
    changes, dwall, _ = timed(lambda: diff(full, again))
    print(f"re-plan from stored sessions (plan(previous=...)) after moving one holiday and one tutor's hours: "
          f"{wall:.2f} s wall, {cpu:.2f} s CPU; {len(changes.moved)} moved, {len(changes.updated)} updated, "
          f"{len(changes.added)} added, {len(changes.cancelled)} cancelled, {len(changes.unchanged)} unchanged; "
          f"diff {dwall * 1000:.0f} ms")  # fmt: skip

    planner, wall, cpu = timed(lambda: Planner(cal, offerings, people, groups, results))
    figures["Planner()"] = cpu
    print(f"Planner (full plan kept in memory with its indexes): {wall:.2f} s wall, {cpu:.2f} s CPU; "
          f"same plan: {planner.result == full}; peak RSS {peak_rss_mib():.0f} MiB")  # fmt: skip
    inc, wall, cpu = timed(lambda: planner.update(calendar=moved_cal, people=moved_people))
    figures["Planner.update (change)"] = cpu
    print(f"incremental re-plan (Planner.update) after the same change: {wall * 1000:.0f} ms wall, "
          f"{cpu * 1000:.0f} ms CPU; same as the full re-plan: {inc == again}")  # fmt: skip
    _, wall, cpu = timed(lambda: planner.update(calendar=cal, people=people))
    figures["Planner.update (back)"] = cpu
    print(f"incremental re-plan moving both back: {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU")

    index, iwall, _ = timed(lambda: person_index(again, groups))
    student = max((pid for pid in index if pid.startswith("s")), key=lambda p: len(index[p]))
    busiest = max(index, key=lambda p: len(index[p]))
    stamp = datetime(2026, 8, 25, tzinfo=UTC)
    for pid, tz in ((student, "Europe/Berlin"), (busiest, "Asia/Almaty")):
        mine = index[pid]

        def feed(mine: list[PlannedSession] = mine, tz: str = tz, pid: str = pid) -> bytes:
            events = [event_from_session(s, join_url=f"https://aulacast.example.edu/join/{s.key}") for s in mine]
            return render_calendar(events, name=f"Schedule of {pid}", tz=tz, domain="aulacast.example.edu", dtstamp=stamp)

        feed()  # the VTIMEZONE cache is warm on a running server
        best = min(timed(feed)[1] for _ in range(5))
        print(f"iCal feed of {pid} ({len(mine)} events, {tz}): {best * 1000:.1f} ms (best of 5), "
              f"{len(feed()) // 1024} KiB")  # fmt: skip
    print(f"(per-person index of the whole plan, built once: {iwall:.2f} s)")
    print(f"peak RSS of the run: {peak_rss_mib():.0f} MiB; load average at end {os.getloadavg()[0]:.2f}")
    figures["peak RSS MiB"] = peak_rss_mib()
    return figures


if __name__ == "__main__":
    main()
