"""scope_area_ids: a user's areas and everything under them, for any number of areas."""
from __future__ import annotations

from server.services.access import scope_area_ids
from tests import factories


def test_scope_is_every_area_under_any_of_the_users_areas(world, db):
    w = world
    cases = {
        (w.grid_a,): {w.grid_a.id},
        (w.street_a,): {w.street_a.id, w.grid_a.id},
        (w.street_a, w.grid_b): {w.street_a.id, w.grid_a.id, w.grid_b.id},
        (w.grid_a, w.street_b, w.grid_b): {w.grid_a.id, w.street_b.id, w.grid_b.id},
        (w.district,): {w.district.id, w.street_a.id, w.street_b.id, w.grid_a.id, w.grid_b.id},
    }
    for n, (areas, expected) in enumerate(cases.items()):
        user = factories.user(f"scoped_{n}", "inspector", list(areas))
        assert scope_area_ids(user) == expected, [a.code for a in areas]
    assert scope_area_ids(factories.user("no_areas", "inspector", [])) == set()
