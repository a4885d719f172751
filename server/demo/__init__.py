"""The demo brigade (北仑区): `flask demo load`, `flask demo logins`, and `build_demo()` for tests."""
from server.demo.generate import (DEFAULT_SEED, DEFAULT_VENUES, DEMO_LOGINS, DEMO_PASSWORD,  # noqa: F401
                                  STAFF, build_demo, plan_demo)
