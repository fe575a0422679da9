.PHONY: install lint test demo check

install:
	pip install -e '.[test]'

lint:
	ruff check . && ruff format --check .

test:
	pytest

demo:
	python run_monitor.py --demo

check: lint test
