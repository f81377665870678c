"""Where the machines behind a series changed, from (machine, setup, first position) groups."""

from __future__ import annotations

from perfsheriff.machines import setup_boundaries

OLD = ("Old CPU", "4", "x86_64", "Linux")
NEW = ("New CPU", "16", "x86_64", "Linux")
UNKNOWN = ("", "", "", "")


def test_one_machine_on_one_setup_has_no_boundary() -> None:
    assert setup_boundaries([("box", OLD, 0)]) == []
    assert setup_boundaries([]) == []


def test_an_upgrade_is_marked_where_the_new_setup_first_measured_with_what_changed() -> None:
    (mark,) = setup_boundaries([("box", NEW, 250), ("box", OLD, 3)])
    assert (mark["position"], mark["machine"], mark["kind"]) == (250, "box", "upgrade")
    assert mark["changed"] == {
        "cpu_model": {"from": "Old CPU", "to": "New CPU"},
        "cpu_count": {"from": "4", "to": "16"},
    }


def test_unknown_values_are_no_change() -> None:
    assert setup_boundaries([("box", UNKNOWN, 0), ("box", OLD, 10), ("box", ("", "4", "", ""), 20)]) == []


def test_a_machine_joining_after_the_start_is_a_new_machine_and_ones_there_from_the_start_are_not() -> None:
    marks = setup_boundaries([("a", OLD, 0), ("b", OLD, 0), ("c", NEW, 40), ("a", NEW, 90)])
    assert [(m["machine"], m["kind"], m["position"]) for m in marks] == [("c", "new machine", 40), ("a", "upgrade", 90)]
    assert marks[0]["changed"]["cpu_model"] == {"from": None, "to": "New CPU"}
