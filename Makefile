# The two front-door commands. Each installs what it needs first (uv, then the locked workspace).
.PHONY: demo test bootstrap lint bench

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

# The end-to-end benchmark (README "Benchmarks"): meltano run into each target on a
# 200,000-order emulated store, next to singer-sdk's default path. Several minutes.
# Options through BENCH_ARGS, e.g. make bench BENCH_ARGS="--orders 20000 --skip-crm".
bench: bootstrap
	.venv/bin/python bench/bench_e2e.py $(BENCH_ARGS)
