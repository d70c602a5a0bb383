"""max_unavailable, node order and batches, as tables."""

from __future__ import annotations

import pytest

from rollouts.batching import MaxUnavailable, Order, batches, order_nodes, parse_max_unavailable


@pytest.mark.parametrize(
    ("value", "total", "parsed", "nodes"),
    [
        (1, 40, MaxUnavailable(count=1), 1),
        (3, 40, MaxUnavailable(count=3), 3),
        ("3", 40, MaxUnavailable(count=3), 3),
        (" 3 ", 40, MaxUnavailable(count=3), 3),
        (10, 4, MaxUnavailable(count=10), 4),  # never more than there are nodes
        ("25%", 40, MaxUnavailable(percent=25), 10),
        ("25 %", 40, MaxUnavailable(percent=25), 10),
        ("10%", 15, MaxUnavailable(percent=10), 1),  # 1.5 rounds down
        ("30%", 10, MaxUnavailable(percent=30), 3),
        ("33%", 10, MaxUnavailable(percent=33), 3),  # 3.3 rounds down
        ("1%", 40, MaxUnavailable(percent=1), 1),  # 0.4 rounds down to 0, but a rollout must move
        ("100%", 7, MaxUnavailable(percent=100), 7),
        ("50%", 1, MaxUnavailable(percent=50), 1),
    ],
)
def test_max_unavailable_is_a_number_or_a_percentage_of_the_nodes(value, total, parsed, nodes):
    assert parse_max_unavailable(value) == parsed
    assert parsed.of(total) == nodes


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "max_unavailable must be at least 1 node"),
        ("0", "max_unavailable must be at least 1 node"),
        ("0%", "max_unavailable must be more than 0%"),
        ("101%", "max_unavailable cannot be more than 100% (got 101%)"),
        (-1, "max_unavailable must be at least 1 node or more than 0%, not '-1'"),
        ("-20%", "max_unavailable must be at least 1 node or more than 0%, not '-20%'"),
        ("1.5", "max_unavailable must be a whole number of nodes or a percentage like '25%', not '1.5'"),
        ("12.5%", "max_unavailable must be a whole number of nodes or a percentage like '25%', not '12.5%'"),
        ("three", "max_unavailable must be a whole number of nodes or a percentage like '25%', not 'three'"),
        ("", "max_unavailable must be a whole number of nodes or a percentage like '25%', not ''"),
        ("%", "max_unavailable must be a whole number of nodes or a percentage like '25%', not '%'"),
        ("5%%", "max_unavailable must be a whole number of nodes or a percentage like '25%', not '5%%'"),
        (True, "max_unavailable must be a whole number of nodes or a percentage like '25%', not True"),
        (2.0, "max_unavailable must be a whole number of nodes or a percentage like '25%', not 2.0"),
        (None, "max_unavailable must be a whole number of nodes or a percentage like '25%', not None"),
    ],
)
def test_bad_max_unavailable_is_refused_in_words(value, words):
    with pytest.raises(ValueError) as raised:
        parse_max_unavailable(value)
    assert str(raised.value) == words


@pytest.mark.parametrize(
    ("parsed", "words", "json"),
    [
        (MaxUnavailable(count=1), "1 node", 1),
        (MaxUnavailable(count=3), "3 nodes", 3),
        (MaxUnavailable(percent=25), "25% of the nodes", "25%"),
    ],
)
def test_max_unavailable_says_what_it_is(parsed, words, json):
    assert parsed.words() == words
    assert parsed.to_json() == json
    assert parse_max_unavailable(json) == parsed


NODES = ["n-c", "n-a", "n-d", "n-b"]
PODS = {"n-a": 12, "n-b": 3, "n-c": 3, "n-d": 0}


@pytest.mark.parametrize(
    ("order", "counts", "ordered"),
    [
        (Order.AS_LISTED, PODS, ["n-c", "n-a", "n-d", "n-b"]),
        ("as_listed", None, ["n-c", "n-a", "n-d", "n-b"]),
        (Order.BY_NAME, PODS, ["n-a", "n-b", "n-c", "n-d"]),
        ("by_name", None, ["n-a", "n-b", "n-c", "n-d"]),
        (Order.FEWEST_PODS, PODS, ["n-d", "n-b", "n-c", "n-a"]),  # n-b and n-c tie on 3: by name
        ("fewest_pods", {"n-a": 1, "n-b": 1}, ["n-a", "n-b", "n-c", "n-d"]),  # uncounted nodes last, by name
        ("fewest_pods", None, ["n-a", "n-b", "n-c", "n-d"]),
        ("fewest_pods", {"n-c": 5}, ["n-c", "n-a", "n-b", "n-d"]),
    ],
)
def test_nodes_are_ordered(order, counts, ordered):
    assert order_nodes(NODES, order, counts) == ordered


def test_an_unknown_order_is_refused_in_words():
    with pytest.raises(ValueError, match="unknown order 'random': use one of as_listed, by_name, fewest_pods"):
        order_nodes(NODES, "random")


@pytest.mark.parametrize(
    ("nodes", "size", "expected"),
    [
        ([], 2, []),
        (["a"], 3, [("a",)]),
        (["a", "b", "c", "d"], 1, [("a",), ("b",), ("c",), ("d",)]),
        (["a", "b", "c", "d"], 2, [("a", "b"), ("c", "d")]),
        (["a", "b", "c", "d", "e"], 2, [("a", "b"), ("c", "d"), ("e",)]),
        (["a", "b", "c"], 3, [("a", "b", "c")]),
        (["a", "b", "c"], 10, [("a", "b", "c")]),
    ],
)
def test_batches_are_consecutive_groups_in_rollout_order(nodes, size, expected):
    assert batches(nodes, size) == expected


def test_a_batch_holds_at_least_one_node():
    with pytest.raises(ValueError, match="at least 1 node"):
        batches(["a"], 0)
