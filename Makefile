# The two front-door commands. Each installs what it needs first (uv, then the locked workspace).
.PHONY: demo test bootstrap lint

bootstrap:
	./scripts/bootstrap.sh

demo: bootstrap
	./scripts/demo.sh

test: bootstrap
	./scripts/test.sh

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports
