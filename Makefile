# The two commands of the README. Both do their own set-up (scripts/bootstrap.sh).
.PHONY: run test stop status lint bench

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

stop:
	@.venv/bin/supervisorctl -c supervisord.conf shutdown

status:
	@.venv/bin/supervisorctl -c supervisord.conf status

lint:
	@.venv/bin/ruff check mibo jobs schemas tests scripts bench

bench:
	@bash scripts/bootstrap.sh && .venv/bin/python bench/auth_bench.py
