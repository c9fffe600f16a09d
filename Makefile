# The project's habits in one place. Every target runs inside the locked Pipenv
# environment; `make test` is README's test command minus the install.
PY := python3 -m pipenv run

.PHONY: sync fmt lint typecheck test test-slow proto lock bench dev

sync:
	python3 -m pipenv sync --dev

fmt:
	$(PY) ruff format .
	$(PY) ruff check --fix .

lint:
	$(PY) ruff check .
	$(PY) ruff format --check .

typecheck:
	$(PY) mypy

test:
	$(PY) pytest

test-slow:
	$(PY) pytest -m slow

proto:
	$(PY) python scripts/gen_proto.py

lock:
	scripts/lock.sh

bench:
	$(PY) python -m bench

dev:
	$(PY) python -m scheduler --dev
