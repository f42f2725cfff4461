# The two front-door commands. Each installs what it needs first (uv, then the locked workspace).
.PHONY: demo test bootstrap lint

bootstrap:
	./scripts/bootstrap.sh

demo: bootstrap
	./scripts/demo.sh
	@# Ends with where the two HTML sync reports are (meltano invoke <target>:report).
	@.venv/bin/python scripts/demo_pipelines.py output/3000x20000

test: bootstrap
	./scripts/test.sh

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports
