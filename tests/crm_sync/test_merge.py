"""The pure 3-way merge: each strategy, one-side changes, first sight, empties, timestamps."""

from datetime import UTC, datetime, timedelta

import pytest

from crm_sync.services.merge import FieldConflict, MergeResult, merge_remote_fields

EARLY = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
LATE = EARLY + timedelta(minutes=5)


def merge(strategy="manual_review", base=None, local=None, remote=None, local_at=EARLY, remote_at=LATE):
    return merge_remote_fields(
        strategy=strategy,
        base=base or {},
        local=local or {},
        remote=remote or {},
        local_modified_at=local_at,
        remote_modified_at=remote_at,
    )


# A field changed on both sides: first_name; one side only: phone (remote), company (local).
BASE = {"first_name": "Ann", "phone": "+100", "company": "Acme"}
LOCAL = {"first_name": "Anne", "phone": "+100", "company": "Acme Ltd"}
REMOTE = {"first_name": "Annie", "phone": "+200", "company": "Acme"}


@pytest.mark.parametrize(
    ("strategy", "local_at", "remote_at", "expected"),
    [
        (
            "remote_wins",
            EARLY,
            LATE,
            MergeResult(
                local_updates={"first_name": "Annie", "phone": "+200"},
                push_back={},
                conflicts={},
                new_base={"first_name": "Annie", "phone": "+200", "company": "Acme"},
            ),
        ),
        (
            "local_wins",
            EARLY,
            LATE,
            MergeResult(
                local_updates={"phone": "+200"},
                push_back={"first_name": "Anne"},
                conflicts={},
                # A local win's base is the remote value it saw, so the local value reads as a
                # local-only change (pushed) until the push lands.
                new_base={"first_name": "Annie", "phone": "+200", "company": "Acme"},
            ),
        ),
        (
            "latest_timestamp",
            EARLY,
            LATE,
            MergeResult(
                local_updates={"first_name": "Annie", "phone": "+200"},
                push_back={},
                conflicts={},
                new_base={"first_name": "Annie", "phone": "+200", "company": "Acme"},
            ),
        ),
        (
            "latest_timestamp",
            LATE,
            EARLY,
            MergeResult(
                local_updates={"phone": "+200"},
                push_back={"first_name": "Anne"},
                conflicts={},
                new_base={"first_name": "Annie", "phone": "+200", "company": "Acme"},
            ),
        ),
        (
            "manual_review",
            EARLY,
            LATE,
            MergeResult(
                local_updates={"phone": "+200"},
                push_back={},
                conflicts={"first_name": FieldConflict(base="Ann", local="Anne", remote="Annie")},
                new_base={"first_name": "Ann", "phone": "+200", "company": "Acme"},
            ),
        ),
    ],
)
def test_each_strategy_settles_the_conflict_and_applies_one_side_changes(
    strategy, local_at, remote_at, expected
):
    result = merge(
        strategy=strategy, base=BASE, local=LOCAL, remote=REMOTE, local_at=local_at, remote_at=remote_at
    )
    assert result == expected


@pytest.mark.parametrize(
    ("local_at", "remote_at"),
    [(None, LATE), (EARLY, None), (None, None), (EARLY, EARLY)],
    ids=["no-local-time", "no-remote-time", "no-times", "equal-times"],
)
def test_latest_timestamp_that_cannot_tell_leaves_the_field_for_review(local_at, remote_at):
    result = merge(
        strategy="latest_timestamp",
        base=BASE,
        local=LOCAL,
        remote=REMOTE,
        local_at=local_at,
        remote_at=remote_at,
    )
    assert result.conflicts == {"first_name": FieldConflict(base="Ann", local="Anne", remote="Annie")}
    assert result.local_updates == {"phone": "+200"}  # the one-side change still applies
    assert result.push_back == {}
    assert result.new_base["first_name"] == "Ann"


@pytest.mark.parametrize("strategy", ["remote_wins", "local_wins", "latest_timestamp", "manual_review"])
def test_the_same_new_value_on_both_sides_is_not_a_conflict(strategy):
    result = merge(
        strategy=strategy, base={"phone": "+100"}, local={"phone": "+300"}, remote={"phone": "+300"}
    )
    assert result == MergeResult(local_updates={}, push_back={}, conflicts={}, new_base={"phone": "+300"})


@pytest.mark.parametrize("strategy", ["remote_wins", "local_wins", "latest_timestamp", "manual_review"])
def test_a_local_only_change_is_kept_and_left_to_the_push(strategy):
    result = merge(
        strategy=strategy, base={"phone": "+100"}, local={"phone": "+300"}, remote={"phone": "+100"}
    )
    assert result == MergeResult(local_updates={}, push_back={}, conflicts={}, new_base={"phone": "+100"})


@pytest.mark.parametrize("strategy", ["remote_wins", "local_wins", "latest_timestamp", "manual_review"])
def test_a_remote_only_change_is_applied(strategy):
    result = merge(
        strategy=strategy, base={"phone": "+100"}, local={"phone": "+100"}, remote={"phone": "+300"}
    )
    assert result == MergeResult(
        local_updates={"phone": "+300"}, push_back={}, conflicts={}, new_base={"phone": "+300"}
    )


@pytest.mark.parametrize(
    ("strategy", "updates", "push_back", "conflicts"),
    [
        ("remote_wins", {"last_name": "Smith", "company": "Globex"}, {}, {}),
        ("local_wins", {"last_name": "Smith"}, {"company": "Initech"}, {}),
        ("latest_timestamp", {"last_name": "Smith", "company": "Globex"}, {}, {}),
        (
            "manual_review",
            {"last_name": "Smith"},
            {},
            {"company": FieldConflict(base=None, local="Initech", remote="Globex")},
        ),
    ],
)
def test_first_sight_fills_empty_fields_and_treats_differing_set_fields_as_conflicts(
    strategy, updates, push_back, conflicts
):
    result = merge(
        strategy=strategy,
        base={},
        local={"last_name": "", "company": "Initech", "phone": "+1", "job_title": "CTO"},
        remote={"last_name": "Smith", "company": "Globex", "phone": "+1", "job_title": None},
    )
    assert result.local_updates == updates
    assert result.push_back == push_back
    assert result.conflicts == conflicts
    # Agreed values become the base; a value only the local side has gets none yet.
    assert result.new_base["phone"] == "+1"
    assert "job_title" not in result.new_base
    assert ("last_name" in result.new_base) == ("last_name" in updates)


def test_empty_values_are_one_value():
    result = merge(
        base={"phone": ""}, local={"phone": None, "tags": []}, remote={"phone": None, "tags": None}
    )
    assert result.local_updates == {} and result.conflicts == {}


def test_a_remote_clearing_a_field_is_a_change_like_any_other():
    result = merge(base={"phone": "+100"}, local={"phone": "+100"}, remote={"phone": ""})
    assert result.local_updates == {"phone": ""}


def test_only_fields_the_crm_sent_are_considered_and_other_base_values_are_kept():
    result = merge(
        strategy="remote_wins",
        base={"phone": "+100", "notes": "kept"},
        local={"phone": "+100", "notes": "changed here", "company": "Local Co"},
        remote={"phone": "+100"},
    )
    assert result == MergeResult(
        local_updates={}, push_back={}, conflicts={}, new_base={"phone": "+100", "notes": "kept"}
    )


def test_custom_properties_and_lists_merge_like_fields():
    result = merge(
        strategy="manual_review",
        base={"plan": "basic", "tags": ["a"]},
        local={"plan": "pro", "tags": ["a"]},
        remote={"plan": "enterprise", "tags": ["a", "b"]},
    )
    assert result.local_updates == {"tags": ["a", "b"]}
    assert result.conflicts == {"plan": FieldConflict(base="basic", local="pro", remote="enterprise")}


def test_a_local_win_whose_push_has_not_landed_is_not_undone_by_the_next_pull():
    first = merge(strategy="local_wins", base=BASE, local=LOCAL, remote=REMOTE)
    # The push failed: the CRM still holds Annie when the next pull comes.
    again = merge(strategy="remote_wins", base=first.new_base, local=LOCAL, remote=REMOTE)
    assert "first_name" not in again.local_updates
    assert again.conflicts == {} and again.push_back == {}


def test_the_inputs_are_not_changed():
    base, local, remote = dict(BASE), dict(LOCAL), dict(REMOTE)
    merge(strategy="remote_wins", base=base, local=local, remote=remote)
    assert (base, local, remote) == (BASE, LOCAL, REMOTE)


def test_an_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="coin_flip"):
        merge(strategy="coin_flip", remote={"phone": "+1"})
