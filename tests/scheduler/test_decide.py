"""The loop's "what next" decisions, on plain values: when it backs off, isolates, asks, claims
or sleeps, and what a claim's size means for the next turn."""

from __future__ import annotations

from gamesched.scheduler.loop import GO_ON, Next, Step, after_claim, decide


def _decide(**overrides: object) -> Next:
    values: dict[str, object] = {
        "backoff_left": 0.0,
        "isolating": False,
        "claim_at_once": False,
        "asked": False,
        "due_in": None,
        "max_wait": 300.0,
    }
    values.update(overrides)
    return decide(**values)  # type: ignore[arg-type]


def test_a_backoff_comes_before_everything() -> None:
    nxt = _decide(backoff_left=2.5, isolating=True, claim_at_once=True, asked=True, due_in=-1.0)
    assert nxt == Next(Step.BACK_OFF, 2.5)
    assert _decide(backoff_left=0.0, claim_at_once=True).step is Step.CLAIM  # over: claim


def test_rows_of_a_failed_batch_are_retried_alone_before_any_claim() -> None:
    assert _decide(isolating=True, claim_at_once=True).step is Step.ISOLATE


def test_woken_or_behind_it_claims_without_asking() -> None:
    assert _decide(claim_at_once=True) == Next(Step.CLAIM)


def test_otherwise_it_asks_first_then_claims_what_is_due() -> None:
    assert _decide().step is Step.ASK
    assert _decide(asked=True, due_in=0.0) == Next(Step.CLAIM)
    assert _decide(asked=True, due_in=-3.0) == Next(Step.CLAIM)


def test_it_sleeps_until_the_next_due_time_at_most_the_longest_sleep() -> None:
    assert _decide(asked=True, due_in=1.5) == Next(Step.SLEEP, 1.5)
    assert _decide(asked=True, due_in=5000.0) == Next(Step.SLEEP, 300.0)
    assert _decide(asked=True, due_in=None) == Next(Step.SLEEP, 300.0)  # nothing pending


def test_a_full_batch_means_claim_again_at_once() -> None:
    assert after_claim(claimed=500, batch_size=500, asked=True) == (True, GO_ON)
    assert after_claim(claimed=500, batch_size=500, asked=False) == (True, GO_ON)


def test_a_partial_batch_or_an_empty_wake_up_asks_next() -> None:
    assert after_claim(claimed=7, batch_size=500, asked=True) == (False, GO_ON)
    # woken by a NOTIFY for a row not yet due: nothing claimed, ask when it is due
    assert after_claim(claimed=0, batch_size=500, asked=False) == (False, GO_ON)


def test_nothing_claimed_although_due_means_locked_elsewhere() -> None:
    assert after_claim(claimed=0, batch_size=500, asked=True) == (False, Next(Step.LOCKED))
