"""tests/integration runs in its own environment (`make integration-test`): pytest-operator and
python-libjuju are not in the main one, so plain `pytest` leaves that directory out."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("pytest_operator") else ["integration"]
