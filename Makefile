# The project's habits in one place. Every target runs inside the locked Pipenv
# environment; `make check` is README's test command minus the install.
PY := python3 -m pipenv run

.PHONY: sync check fmt lint typecheck test test-slow proto lock bench dev

sync:
	python3 -m pipenv sync --dev

check:
	$(PY) python scripts/check.py

fmt:
	$(PY) ruff format .
	$(PY) ruff check --fix .

# The steps of the check, one at a time (scripts/check.py holds their commands).
lint:
	$(PY) python scripts/check.py ruff format

typecheck:
	$(PY) python scripts/check.py mypy

test:
	$(PY) python scripts/check.py tests

test-slow:
	$(PY) python scripts/check.py slow

proto:
	$(PY) python scripts/gen_proto.py

lock:
	scripts/lock.sh

bench:
	$(PY) python -m bench

dev:
	$(PY) python -m scheduler --dev
